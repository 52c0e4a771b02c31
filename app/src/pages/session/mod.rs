//! The session page: the desktop filling the window, a control panel beside it, progress while
//! it starts, and a clear message when it ends or the connection drops.
mod browser;
mod chat;
mod files;
mod sharing;
mod warnings;

pub use chat::Chat;

use crate::api::{keepalive, session_status, ChangeSession, DeleteSession};
use crate::model::{SessionAllowances, SessionChange, SessionStatus, SessionView};
use crate::pages::layout::go_to;
use crate::AppError;
use browser::FrameMessage;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::time::Duration;

fn format_left(seconds: i64) -> String {
    let (hours, minutes) = (seconds / 3600, (seconds % 3600) / 60);
    if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else {
        format!("{minutes} min")
    }
}

#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let session_id = params
        .read_untracked()
        .get("session_id")
        .unwrap_or_default();
    let first = Resource::new(
        {
            let session_id = session_id.clone();
            move || session_id.clone()
        },
        session_status,
    );
    view! {
        <Transition fallback=|| view! { <main class="centered"><p class="muted">"Loading the session…"</p></main> }>
            {
                let session_id = session_id.clone();
                move || {
                    let session_id = session_id.clone();
                    Suspend::new(async move {
                        match first.await {
                            Ok(session) => view! { <LiveSession session_id session /> }.into_any(),
                            Err(error) => view! { <SessionProblem error /> }.into_any(),
                        }
                    })
                }
            }
        </Transition>
    }
}

#[component]
fn SessionProblem(error: AppError) -> impl IntoView {
    let text = match error {
        AppError::Forbidden => "This session belongs to someone else.".to_owned(),
        AppError::NotFound(_) => "There is no such session.".to_owned(),
        other => other.to_string(),
    };
    view! {
        <main class="centered">
            <div class="card" id="session-problem">
                <h1>"Session unavailable"</h1>
                <p>{text}</p>
                <a href="/">"Back to your workspaces"</a>
            </div>
        </main>
    }
}

/// Runs `tick` every `period` while the component that called it is mounted.
pub(crate) fn every(period: Duration, tick: impl Fn() + Clone + 'static) {
    Effect::new(move |_| {
        let handle = set_interval_with_handle(tick.clone(), period);
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
}

#[component]
fn LiveSession(session_id: String, session: SessionView) -> impl IntoView {
    let current = RwSignal::new(session);
    let connected = RwSignal::new(true);
    let session_id = StoredValue::new(session_id);
    let resume = ServerAction::<ChangeSession>::new();
    let refresh = move || refresh_status(session_id, current);
    keep_current(session_id, current, refresh);
    Effect::new(move |_| {
        browser::listen(move |message| match message {
            FrameMessage::Connected => connected.set(true),
            FrameMessage::Disconnected => {
                connected.set(false);
                refresh();
            }
            _ => {}
        });
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = resume.value().get() {
            refresh();
        }
    });
    let status = move || current.get().status.as_str();
    view! {
        <div class="session-page" id="session-page" data-status=status>
            {move || view! { <SessionNotice session=current.get() session_id resume /> }}
            <warnings::Warnings current />
            <Show when=move || current.get().status == SessionStatus::Running>
                <DesktopFrame session_id connected />
            </Show>
            <ControlPanel session_id current />
        </div>
    }
}

/// Asks for the session's state now; a session that is gone shows as deleted.
fn refresh_status(session_id: StoredValue<String>, current: RwSignal<SessionView>) {
    leptos::task::spawn_local(async move {
        match session_status(session_id.get_value()).await {
            Ok(session) => current.set(session),
            Err(AppError::NotFound(_)) => current.update(|s| s.status = SessionStatus::Deleted),
            Err(_) => {}
        }
    })
}

/// Keeps `current` up to date while the page is open: the state polled quickly while the
/// session starts and slowly afterwards (to notice expiry or deletion), a keepalive while it
/// runs, and the time left ticking locally between refreshes.
fn keep_current(
    session_id: StoredValue<String>,
    current: RwSignal<SessionView>,
    refresh: impl Fn() + Copy + 'static,
) {
    every(Duration::from_secs(1), move || {
        if current.get_untracked().is_starting() || js_seconds().is_multiple_of(10) {
            refresh();
        }
    });
    every(Duration::from_secs(60), move || {
        if current.get_untracked().status == SessionStatus::Running {
            leptos::task::spawn_local(async move {
                let _ = keepalive(session_id.get_value()).await;
            });
        }
    });
    every(Duration::from_secs(1), move || {
        current.update(|s| {
            s.expires_in_secs = (s.expires_in_secs - 1).max(0);
            s.idle_in_secs = s.idle_in_secs.map(|left| (left - 1).max(0));
        })
    });
}

/// What stands in for the desktop while it is not running: launch progress, the end, or a
/// paused/stopped desktop with its Resume button.
#[component]
fn SessionNotice(
    session: SessionView,
    session_id: StoredValue<String>,
    resume: ServerAction<ChangeSession>,
) -> impl IntoView {
    if session.is_starting() {
        view! {
            <main class="centered">
                <div class="card launch-progress" id="launch-progress">
                    <h1>{format!("Starting {}", session.image_name)}</h1>
                    <progress max="100" value=session.progress></progress>
                    <p class="muted">{session.message.clone()}</p>
                </div>
            </main>
        }
        .into_any()
    } else if session.is_over() {
        view! {
            <main class="centered">
                <div class="card" id="session-ended">
                    <h1>"This session has ended"</h1>
                    <p>{session.message.clone()}</p>
                    <a class="button" href="/">"Back to your workspaces"</a>
                </div>
            </main>
        }
        .into_any()
    } else if matches!(
        session.status,
        SessionStatus::Paused | SessionStatus::Stopped
    ) {
        let (title, text) = if session.status == SessionStatus::Paused {
            ("Paused", "The desktop is frozen until you resume it.")
        } else {
            (
                "Stopped",
                "The desktop's programs were stopped; its files are kept. Resume starts it again.",
            )
        };
        view! {
            <main class="centered">
                <div class="card" id=format!("session-{}", session.status)>
                    <h1>{title}</h1>
                    <p>{text}</p>
                    <p class="muted" id="session-message">{session.message.clone()}</p>
                    <p class="error">{move || match resume.value().get() {
                        Some(Err(error)) => error.to_string(),
                        _ => String::new(),
                    }}</p>
                    <button class="primary" disabled=move || resume.pending().get() on:click=move |_| {
                        resume.dispatch(ChangeSession { session_id: session_id.get_value(), change: SessionChange::Resume });
                    }>"Resume"</button>
                </div>
            </main>
        }
        .into_any()
    } else {
        ().into_any()
    }
}

/// The desktop (Berth's viewer page in a frame), with the offer to reconnect when its
/// connection dropped. (This and the panel answer type-erased views: nested in the page, their
/// full types would exceed the compiler's query depth.)
#[component]
fn DesktopFrame(session_id: StoredValue<String>, connected: RwSignal<bool>) -> impl IntoView {
    let frame_src = format!("/viewer.html?kasm={}", session_id.get_value());
    view! {
        <div class="session-view" id=browser::VIEW_ID>
            <iframe id=browser::FRAME_ID src=frame_src title="Desktop" allow="clipboard-read; clipboard-write; fullscreen"></iframe>
            <Show when=move || !connected.get()>
                <div class="overlay" id="disconnected">
                    <div class="card">
                        <h2>"The connection to the desktop dropped"</h2>
                        <p class="muted">"Your session keeps running. Reconnect to pick up where you left off."</p>
                        <button class="primary" id="reconnect" on:click=move |_| {
                            connected.set(true);
                            browser::send(&FrameMessage::Reconnect);
                        }>"Reconnect"</button>
                    </div>
                </div>
            </Show>
        </div>
    }
    .into_any()
}

/// The panel beside the desktop: time left, full screen, the clipboard both ways, deleting
/// the session, file transfer, sharing and chat.
#[component]
fn ControlPanel(session_id: StoredValue<String>, current: RwSignal<SessionView>) -> impl IntoView {
    let panel_open = RwSignal::new(false);
    let clipboard = RwSignal::new(String::new());
    let delete = ServerAction::<DeleteSession>::new();
    let allowed = move || current.get().allowed;
    Effect::new(move |_| {
        browser::listen(move |message| {
            if let FrameMessage::Clipboard { text } = message {
                clipboard.set(text)
            }
        });
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            go_to("/");
        }
    });
    view! {
        <aside class="control-panel" class:open=move || panel_open.get() id="control-panel">
            <button class="panel-toggle" id="panel-toggle" title="Control panel" on:click=move |_| panel_open.update(|open| *open = !*open)>
                {move || if panel_open.get() { "›" } else { "‹" }}
            </button>
            <div class="panel-body">
                <h2>{move || current.get().image_name}</h2>
                <p class="muted" id="time-left">{move || format!("Time left: {}", format_left(current.get().expires_in_secs))}</p>
                <button class="panel-button" id="fullscreen" on:click=move |_| browser::fullscreen()>"Full screen"</button>
                <ClipboardControls clipboard allowed />
                <a class="panel-button" href="/" id="back">"Back to workspaces"</a>
                <Show when=move || allowed().delete>
                    <button class="panel-button danger" id="delete-session" on:click=move |_| {
                        delete.dispatch(DeleteSession { session_id: session_id.get_value() });
                    }>"Delete session"</button>
                </Show>
                {move || match delete.value().get() {
                    Some(Err(error)) => Some(view! { <p class="error">{error.to_string()}</p> }),
                    _ => None,
                }}
                <files::FileTransfer session_id=session_id.get_value() />
                <sharing::SharingControls session_id=session_id.get_value() />
                <Chat session_id=session_id.get_value() />
            </div>
        </aside>
    }
    .into_any()
}

/// The clipboard both ways, each way only where the owner's groups allow it (the proxy drops
/// the cut text of a way switched off, whatever the page does).
#[component]
fn ClipboardControls(
    clipboard: RwSignal<String>,
    allowed: impl Fn() -> SessionAllowances + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Show when=move || allowed().clipboard_up || allowed().clipboard_down>
            <label for="clipboard">"Clipboard"</label>
            <textarea id="clipboard" rows="4" prop:value=move || clipboard.get() on:input=move |event| clipboard.set(event_target_value(&event))></textarea>
        </Show>
        <Show when=move || allowed().clipboard_up>
            <button class="panel-button" id="send-clipboard" on:click=move |_| {
                browser::send(&FrameMessage::Paste { text: clipboard.get_untracked() });
                browser::send(&FrameMessage::Focus);
            }>"Send to the desktop"</button>
        </Show>
        <Show when=move || allowed().clipboard_down>
            <p class="muted small" id="clipboard-down-note">"Text copied in the desktop appears here."</p>
        </Show>
    }
    .into_any()
}

/// Whole seconds of the browser's clock (for coarse periodic work).
fn js_seconds() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        (leptos::prelude::window()
            .performance()
            .map(|p| p.now())
            .unwrap_or(0.0)
            / 1000.0) as u64
    }
    #[cfg(not(feature = "hydrate"))]
    0
}
