//! The sign-in page; after signing in the user goes on to the page they asked for (a path of
//! this site only, never another origin).
use super::layout::{go_to, other_error, ErrorText};
use crate::api::Login;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Only same-site paths are followed after signing in (no open redirects). Browsers drop tabs
/// and newlines from URLs (so "/\t/evil.example" is "//evil.example"), and read "\\" as "/":
/// a path with any of them, or any other control or space character, is not followed.
fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            path
        }
        _ => "/".to_owned(),
    }
}

/// Where a user goes once signed in: the page they asked for; else the session of their
/// groups' default workspace (`default_image`, started if need be); else the dashboard (also
/// when the default workspace can't start, e.g. at the session limit: it is launched from
/// there as any other).
async fn after_sign_in(next: Option<String>) -> String {
    if next.is_some() {
        return safe_next(next);
    }
    match crate::api::default_session().await {
        Ok(Some(session_id)) => format!("/session/{session_id}"),
        _ => "/".to_owned(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            let next = query.get_untracked().get("next");
            leptos::task::spawn_local(async move { go_to(&after_sign_in(next).await) });
        }
    });
    let error = other_error(login.value(), &[]);
    view! {
        <main class="centered">
            <div class="card login">
                <h1>"Berth"</h1>
                <p class="muted">"Sign in to reach your workspaces."</p>
                <ActionForm action=login attr:id="login-form">
                    <label>
                        "Username"
                        <input name="username" id="username" autocomplete="username" required autofocus />
                    </label>
                    <label>
                        "Password"
                        <input
                            type="password"
                            name="password"
                            id="password"
                            autocomplete="current-password"
                            required
                        />
                    </label>
                    <ErrorText message=Signal::derive(error) />
                    <button type="submit" class="primary" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/admin/users".into())), "/admin/users");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(Some("/\\evil".into())), "/");
        // "/%09/evil.example" once decoded: the browser would go to //evil.example.
        assert_eq!(safe_next(Some("/\t/evil.example".into())), "/");
        assert_eq!(safe_next(Some("/\n/evil.example".into())), "/");
        assert_eq!(safe_next(Some("/ /evil.example".into())), "/");
        assert_eq!(
            safe_next(Some("/session/1?x=a%20b".into())),
            "/session/1?x=a%20b"
        );
        assert_eq!(safe_next(None), "/");
    }
}
