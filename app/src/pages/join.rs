//! Joining a shared session through its link: the desktop, view only, and the chat.
use super::session::Chat;
use crate::api::join_share;
use crate::model::JoinedSession;
use crate::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn JoinPage() -> impl IntoView {
    let params = use_params_map();
    let share_id = params.read_untracked().get("share_id").unwrap_or_default();
    let joined = Resource::new(move || share_id.clone(), join_share);
    view! {
        <Transition fallback=|| view! { <main class="centered"><p class="muted">"Joining…"</p></main> }>
            {move || Suspend::new(async move {
                match joined.await {
                    Ok(session) => view! { <SharedSession session /> }.into_any(),
                    Err(error) => {
                        let text = match error {
                            AppError::Forbidden => "This share link is not valid (any more). Ask the owner for a new one.".to_owned(),
                            other => other.to_string(),
                        };
                        view! {
                            <main class="centered">
                                <div class="card" id="join-refused">
                                    <h1>"Cannot join"</h1>
                                    <p>{text}</p>
                                    <a href="/">"Back to your workspaces"</a>
                                </div>
                            </main>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn SharedSession(session: JoinedSession) -> impl IntoView {
    let session_id = session.session_id.to_string();
    let frame = format!(
        "/viewer.html?kasm={session_id}&view_only={}",
        if session.has_control { 0 } else { 1 }
    );
    let open = RwSignal::new(true);
    let chat_session = session_id.clone();
    view! {
        <div class="session-page" id="shared-session" data-session-id=session_id.clone()>
            <div class="session-view">
                <iframe id="desktop-frame" src=frame title="Shared desktop"></iframe>
            </div>
            <aside class="control-panel" class:open=move || open.get() id="control-panel">
                <button class="panel-toggle" id="panel-toggle" on:click=move |_| open.update(|o| *o = !*o)>
                    {move || if open.get() { "›" } else { "‹" }}
                </button>
                <div class="panel-body">
                    <h2>{session.image_name}</h2>
                    <p class="muted" id="watching">{format!("You are watching {}'s session (view only).", session.owner)}</p>
                    <a class="panel-button" href="/">"Back to workspaces"</a>
                    <Chat session_id=chat_session />
                </div>
            </aside>
        </div>
    }
}
