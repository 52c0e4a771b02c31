//! The dashboard: the user's running sessions (open, pause, stop, resume, delete) and the
//! workspaces they may launch, searchable and filtered by category.
use super::layout::{go_to, Layout};
use crate::api::{list_workspaces, my_sessions, ChangeSession, DeleteSession, LaunchWorkspace};
use crate::model::{SessionChange, SessionStatus, SessionView, Workspace};
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let launch = ServerAction::<LaunchWorkspace>::new();
    let delete = ServerAction::<DeleteSession>::new();
    let change = ServerAction::<ChangeSession>::new();
    let workspaces = Resource::new(|| (), |_| list_workspaces());
    super::profile_mode::provide_profile_workspaces();
    let sessions = Resource::new(
        move || {
            (
                launch.version().get(),
                delete.version().get(),
                change.version().get(),
            )
        },
        |_| my_sessions(),
    );
    Effect::new(move |_| {
        if let Some(Ok(session_id)) = launch.value().get() {
            go_to(&format!("/session/{session_id}"));
        }
    });
    let search = RwSignal::new(String::new());
    let launch_error = move || match launch.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    let session_error = move || match (delete.value().get(), change.value().get()) {
        (Some(Err(error)), _) | (_, Some(Err(error))) => Some(error.to_string()),
        _ => None,
    };

    view! {
        <Layout>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) if !list.is_empty() => view! { <MySessions list delete change /> }.into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
            {move || session_error().map(|text| view! { <p class="error" role="alert">{text}</p> })}

            <div class="heading-row">
                <h1>"Workspaces"</h1>
                <input
                    type="search"
                    id="workspace-search"
                    placeholder="Search workspaces"
                    aria-label="Search workspaces"
                    on:input=move |event| search.set(event_target_value(&event))
                />
            </div>
            {move || launch_error().map(|text| view! { <p class="error" role="alert" id="launch-error">{text}</p> })}
            <Show when=move || launch.pending().get()>
                <p class="muted" role="status">"Starting your workspace…"</p>
            </Show>
            <Suspense fallback=|| view! { <p class="muted">"Loading workspaces…"</p> }>
                {move || Suspend::new(async move {
                    match workspaces.await {
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty" id="no-workspaces">
                                <h2>"No workspaces yet"</h2>
                                <p>"No workspace is available to you. An administrator registers workspace images under Admin → Images and gives them to groups under Admin → Groups."</p>
                            </div>
                        }.into_any(),
                        Ok(list) => view! { <WorkspaceTiles list search launch /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
fn MySessions(
    list: Vec<SessionView>,
    delete: ServerAction<DeleteSession>,
    change: ServerAction<ChangeSession>,
) -> impl IntoView {
    view! {
        <section class="my-sessions">
            <h2>"My sessions"</h2>
            <ul class="session-list" id="my-sessions">
                {list.into_iter().map(|session| view! { <SessionRow session delete change /> }).collect_view()}
            </ul>
        </section>
    }
}

/// The workspaces as tiles, with a chip per category; `search` matches names and descriptions.
#[component]
fn WorkspaceTiles(
    list: Vec<Workspace>,
    search: RwSignal<String>,
    launch: ServerAction<LaunchWorkspace>,
) -> impl IntoView {
    let category = RwSignal::new(String::new());
    let mut categories: Vec<String> = list.iter().flat_map(|w| w.categories.clone()).collect();
    categories.sort();
    categories.dedup();
    let list = StoredValue::new(list);
    view! {
        <div class="filters" id="categories">
            <button class="chip" class:active=move || category.get().is_empty() on:click=move |_| category.set(String::new())>"All"</button>
            {categories.into_iter().map(|name| {
                let value = name.clone();
                let active = name.clone();
                view! {
                    <button class="chip" class:active=move || category.get() == active on:click=move |_| category.set(value.clone())>{name}</button>
                }
            }).collect_view()}
        </div>
        <ul class="tiles" id="workspaces">
            {move || {
                let needle = search.get().to_lowercase();
                let wanted = category.get();
                list.get_value()
                    .into_iter()
                    .filter(|w| wanted.is_empty() || w.categories.contains(&wanted))
                    .filter(|w| needle.is_empty()
                        || w.friendly_name.to_lowercase().contains(&needle)
                        || w.description.to_lowercase().contains(&needle))
                    .map(|workspace| view! { <WorkspaceTile workspace launch /> })
                    .collect_view()
            }}
        </ul>
    }
}

#[component]
fn WorkspaceTile(workspace: Workspace, launch: ServerAction<LaunchWorkspace>) -> impl IntoView {
    let thumbnail = (!workspace.image_src.is_empty()).then(|| {
        view! { <img src=workspace.image_src.clone() alt="" loading="lazy" /> }
    });
    let image_id = workspace.image_id.to_string();
    let name = workspace.friendly_name.clone();
    let mode = RwSignal::new(String::new());
    view! {
        <li class="tile" data-image-id=workspace.image_id.to_string() data-name=name>
            <div class="thumb">{thumbnail}</div>
            <h3>{workspace.friendly_name}</h3>
            <p class="muted">{workspace.description}</p>
            <p class="tags">
                {workspace.categories.into_iter().map(|category| view! { <span class="tag">{category}</span> }).collect_view()}
            </p>
            <super::profile_mode::ProfileModeSelect image_id=image_id.clone() mode />
            <button
                class="primary launch"
                disabled=move || launch.pending().get()
                on:click=move |_| {
                    let profile_mode = Some(mode.get_untracked()).filter(|m| !m.is_empty());
                    launch.dispatch(LaunchWorkspace { image_id: image_id.clone(), profile_mode });
                }
            >
                "Launch"
            </button>
        </li>
    }
}

#[component]
fn SessionRow(
    session: SessionView,
    delete: ServerAction<DeleteSession>,
    change: ServerAction<ChangeSession>,
) -> impl IntoView {
    let id = session.session_id.to_string();
    let status = session.status;
    // The changes this state allows, as (label, change) buttons.
    let changes: &[(&str, SessionChange)] = match status {
        SessionStatus::Running => &[
            ("Pause", SessionChange::Pause),
            ("Stop", SessionChange::Stop),
        ],
        SessionStatus::Paused => &[
            ("Resume", SessionChange::Resume),
            ("Stop", SessionChange::Stop),
        ],
        SessionStatus::Stopped => &[("Resume", SessionChange::Resume)],
        _ => &[],
    };
    let allowed = session.allowed;
    let buttons = changes
        .iter()
        .filter(|(_, what)| allowed.permits(*what))
        .map(|&(label, what)| {
            let session_id = id.clone();
            view! {
                <button class="link" data-change=label.to_lowercase() on:click=move |_| {
                    change.dispatch(ChangeSession { session_id: session_id.clone(), change: what });
                }>{label}</button>
            }
        })
        .collect_view();
    let delete_id = id.clone();
    view! {
        <li class="session-row" data-session-id=id.clone()>
            <span class="name">{session.image_name}</span>
            <span class=format!("state state-{status}")>{status.as_str()}</span>
            <span class="muted">{format!("started {}", session.created)}</span>
            <span class="actions">
                <a class="button" href=format!("/session/{id}")>"Open"</a>
                {buttons}
                {allowed.delete.then(|| view! {
                    <button class="link danger" data-change="delete" on:click=move |_| {
                        delete.dispatch(DeleteSession { session_id: delete_id.clone() });
                    }>"Delete"</button>
                })}
            </span>
        </li>
    }
}
