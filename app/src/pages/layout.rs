//! What every page shares: the frame with its navigation, the admin pages' tabs, the
//! forbidden notice, and helpers for navigation, confirmation and form errors.
use crate::api::{get_current_user, Logout};
use crate::model::CurrentUser;
use crate::AppError;
use leptos::prelude::*;

/// The signed-in user, loaded once per page and shared through context.
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<CurrentUser>, AppError>>);

impl UserResource {
    pub fn provide() {
        provide_context(UserResource(Resource::new(|| (), |_| get_current_user())));
    }
}

/// Loads a new page in the browser (a full load, so the server renders it afresh).
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Asks the person to confirm (in the browser; always "no" elsewhere).
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        window().confirm_with_message(message).unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// The message of the error in an action's latest result that concerns `field`.
pub fn field_error<T, S>(value: S, field: &'static str) -> impl Fn() -> Option<String> + Copy
where
    S: Get<Value = Option<Result<T, AppError>>> + Copy,
{
    move || match value.get() {
        Some(Err(error)) if error.field() == Some(field) => Some(error.to_string()),
        _ => None,
    }
}

/// The message of an error in an action's latest result that concerns none of `fields`.
pub fn other_error<T, S>(
    value: S,
    fields: &'static [&'static str],
) -> impl Fn() -> Option<String> + Copy
where
    S: Get<Value = Option<Result<T, AppError>>> + Copy,
{
    move || match value.get() {
        Some(Err(error)) if !error.field().is_some_and(|field| fields.contains(&field)) => {
            Some(error.to_string())
        }
        _ => None,
    }
}

/// Shows `message()` as an inline error when there is one.
#[component]
pub fn ErrorText(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|text| view! { <p class="error" role="alert">{text}</p> })
    }
}

/// Top bar and page frame for signed-in pages.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let user = expect_context::<UserResource>().0;
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            go_to("/login");
        }
    });
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Berth"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(me)) => {
                            let admin = me.is_admin();
                            view! {
                                <nav class="nav">
                                    <a href="/">"Workspaces"</a>
                                    {admin.then(|| view! { <a href="/admin/users">"Admin"</a> })}
                                    <a href="/account" class="who">{me.username}</a>
                                    <button
                                        class="link"
                                        id="sign-out"
                                        on:click=move |_| {
                                            logout.dispatch(Logout {});
                                        }
                                    >
                                        "Sign out"
                                    </button>
                                </nav>
                            }
                                .into_any()
                        }
                        _ => view! { <nav class="nav"><a href="/login">"Sign in"</a></nav> }.into_any(),
                    }
                })}
            </Transition>
        </header>
        <main class="content">{children()}</main>
    }
}

/// The tabs above every admin page.
#[component]
pub fn AdminNav(current: &'static str) -> impl IntoView {
    let tabs = [
        ("users", "Users"),
        ("groups", "Groups"),
        ("images", "Images"),
        ("servers", "Servers"),
        ("staging", "Staging"),
        ("sessions", "Sessions"),
        ("developers", "Developers"),
        ("metrics", "Metrics"),
        ("audit", "Audit"),
    ];
    view! {
        <nav class="admin-nav" id="admin-nav">
            {tabs.into_iter().map(|(path, label)| view! {
                <a href=format!("/admin/{path}") class:current=current == path>{label}</a>
            }).collect_view()}
        </nav>
    }
}

/// What a non-admin sees on an admin page (the server answers 403 as well).
#[component]
pub fn Forbidden() -> impl IntoView {
    view! {
        <div class="card" id="forbidden">
            <h2>"Forbidden"</h2>
            <p>"Only administrators can manage this."</p>
        </div>
    }
}
