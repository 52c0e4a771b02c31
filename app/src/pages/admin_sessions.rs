//! Admin → Sessions: every session with its user, image, server, state and age; destroy.
use super::layout::{confirm, AdminNav, Forbidden, Layout};
use crate::api::{list_all_sessions, DestroyAnySession};
use crate::model::{format_duration, AdminSessionRow, SessionStatus};
use crate::AppError;
use leptos::prelude::*;

#[component]
pub fn AdminSessionsPage() -> impl IntoView {
    let destroy = ServerAction::<DestroyAnySession>::new();
    let include_deleted = RwSignal::new(false);
    let sessions = Resource::new(
        move || (include_deleted.get(), destroy.version().get()),
        |(include_deleted, _)| list_all_sessions(include_deleted),
    );
    view! {
        <Layout>
            <AdminNav current="sessions" />
            <h1>"Sessions"</h1>
            <label class="checkbox">
                <input
                    type="checkbox"
                    id="include-deleted"
                    prop:checked=move || include_deleted.get()
                    on:change=move |event| include_deleted.set(event_target_checked(&event))
                />
                " Include ended (deleted) sessions"
            </label>
            {move || match destroy.value().get() {
                Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }),
                _ => None,
            }}
            <Suspense fallback=|| view! { <p class="muted">"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(AppError::Forbidden) | Err(AppError::Unauthorized) => view! { <Forbidden /> }.into_any(),
                        Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! { <p class="muted" id="no-sessions">"No sessions."</p> }.into_any(),
                        Ok(rows) => view! {
                            <table class="table" id="sessions">
                                <thead><tr>
                                    <th>"User"</th><th>"Workspace"</th><th>"Server"</th><th>"State"</th>
                                    <th>"Message"</th><th>"Age"</th><th>"Expires in"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|session| view! { <SessionRowView session destroy /> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
fn SessionRowView(
    session: AdminSessionRow,
    destroy: ServerAction<DestroyAnySession>,
) -> impl IntoView {
    let id = session.session_id.to_string();
    let over = session.status == SessionStatus::Deleted;
    let hostname = if session.hostname.is_empty() {
        "—".to_owned()
    } else {
        session.hostname.clone()
    };
    let expires = if over {
        "—".to_owned()
    } else if session.expires_in_secs == 0 {
        "expired".to_owned()
    } else {
        format_duration(session.expires_in_secs)
    };
    let what = format!("{}'s {} session", session.username, session.image_name);
    let destroy_button = (!over).then(|| {
        let id = id.clone();
        view! {
            <button class="link danger destroy" on:click=move |_| {
                if confirm(&format!("Destroy {what}? Its container and unsaved work are lost.")) {
                    destroy.dispatch(DestroyAnySession { session_id: id.clone() });
                }
            }>"Destroy"</button>
        }
    });
    view! {
        <tr data-session-id=id data-status=session.status.as_str() class:disabled=over>
            <td>{session.username}</td>
            <td>{session.image_name}</td>
            <td>{hostname}</td>
            <td class="status">{format!("{} ({}%)", session.status, session.progress)}</td>
            <td class="small">{session.message}</td>
            <td title=session.created>{format_duration(session.age_secs)}</td>
            <td title=session.expires>{expires}</td>
            <td>{destroy_button}</td>
        </tr>
    }
}
