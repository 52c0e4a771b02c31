//! The chat sidebar: messages in real time over a WebSocket (/chat/<session_id>), who is
//! watching, and why a message was refused. Text is always rendered as text.
use crate::model::{ChatEvent, ChatMessage, ChatPost};
use leptos::prelude::*;

#[derive(Clone, Copy)]
struct ChatState {
    messages: RwSignal<Vec<ChatMessage>>,
    users: RwSignal<Vec<String>>,
    error: RwSignal<Option<String>>,
    connected: RwSignal<bool>,
    ended: RwSignal<bool>,
    /// Bumped to reconnect after the socket dropped.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    generation: RwSignal<u32>,
}

impl ChatState {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn apply(self, event: ChatEvent) {
        match event {
            ChatEvent::History { messages } => self.messages.set(messages),
            ChatEvent::Message { message } => self.messages.update(|list| {
                list.push(message);
                let excess = list.len().saturating_sub(200);
                list.drain(..excess);
            }),
            ChatEvent::Presence { users } => self.users.set(users),
            ChatEvent::Error { message } => self.error.set(Some(message)),
            ChatEvent::Ended => self.ended.set(true),
        }
    }
}

#[cfg(feature = "hydrate")]
mod socket {
    use super::ChatState;
    use leptos::prelude::{set_timeout, GetUntracked, Set, Update};
    use leptos::wasm_bindgen::{closure::Closure, JsCast};
    use std::time::Duration;

    pub fn open(session_id: &str, state: ChatState) -> Option<web_sys::WebSocket> {
        let location = leptos::prelude::window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        let url = format!("{scheme}://{}/chat/{session_id}", location.host().ok()?);
        let socket = web_sys::WebSocket::new(&url).ok()?;
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(event) = event
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str(&text).ok())
                {
                    state.apply(event);
                }
            },
        );
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_open = Closure::<dyn FnMut()>::new(move || state.connected.set(true));
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();
        // A dropped socket (network blip, server restart) reconnects unless access ended.
        let on_close = Closure::<dyn FnMut()>::new(move || {
            state.connected.set(false);
            if !state.ended.get_untracked() {
                set_timeout(
                    move || state.generation.update(|g| *g += 1),
                    Duration::from_secs(1),
                );
            }
        });
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        on_close.forget();
        Some(socket)
    }
}

impl ChatState {
    fn new() -> ChatState {
        ChatState {
            messages: RwSignal::new(Vec::new()),
            users: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
            connected: RwSignal::new(false),
            ended: RwSignal::new(false),
            generation: RwSignal::new(0),
        }
    }
}

/// Keeps the chat's socket open (a new one each time `generation` moves) and returns how to
/// post a message on it: true when it was sent. Only the browser has a socket.
fn connection(session_id: String, state: ChatState) -> impl Fn(&str) -> bool + Copy + 'static {
    #[cfg(feature = "hydrate")]
    {
        let socket = StoredValue::new_local(None::<web_sys::WebSocket>);
        Effect::new(move |_| {
            state.generation.track();
            if let Some(old) = socket.with_value(|s| s.clone()) {
                old.set_onclose(None);
                let _ = old.close();
            }
            socket.set_value(socket::open(&session_id, state));
        });
        move |payload: &str| {
            socket.with_value(|s| s.as_ref().is_some_and(|s| s.send_with_str(payload).is_ok()))
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (session_id, state);
        |_: &str| false
    }
}

#[component]
pub fn Chat(session_id: String) -> impl IntoView {
    let state = ChatState::new();
    let draft = RwSignal::new(String::new());
    let post = connection(session_id, state);
    let send = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        state.error.set(None);
        let payload = serde_json::to_string(&ChatPost { text }).unwrap_or_default();
        if post(&payload) {
            draft.set(String::new());
        } else {
            state.error.set(Some("The chat is not connected.".into()));
        }
    };
    view! {
        <section class="chat" id="chat" data-connected=move || state.connected.get().to_string()>
            <h3>"Chat"</h3>
            <ChatPresence users=state.users/>
            <ChatMessages messages=state.messages/>
            <Show when=move || state.ended.get()>
                <p class="error" id="chat-ended">"You are no longer in this session."</p>
            </Show>
            {move || state.error.get().map(|text| view! { <p class="error" id="chat-error" role="alert">{text}</p> })}
            <form class="chat-form" on:submit=move |event| {
                event.prevent_default();
                send();
            }>
                <input
                    id="chat-input"
                    maxlength="1000"
                    placeholder="Message"
                    autocomplete="off"
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                />
                <button type="submit" id="chat-send">"Send"</button>
            </form>
        </section>
    }
    // Type-erased: nested in the session and join pages, the full type exceeds the
    // compiler's query depth when the browser build lays it out.
    .into_any()
}

/// Who else is here.
#[component]
fn ChatPresence(users: RwSignal<Vec<String>>) -> impl IntoView {
    view! {
        <p class="muted small" id="chat-presence">
            {move || {
                let users = users.get();
                if users.is_empty() { "Nobody else is here yet.".to_owned() } else { format!("Here now: {}", users.join(", ")) }
            }}
        </p>
    }
}

/// The messages, oldest first; their text is rendered as text.
#[component]
fn ChatMessages(messages: RwSignal<Vec<ChatMessage>>) -> impl IntoView {
    view! {
        <ul class="chat-messages" id="chat-messages">
            {move || messages.get().into_iter().map(|message| view! {
                <li class="chat-message" data-id=message.id>
                    <span class="chat-user">{message.user}</span>
                    <span class="chat-time muted small">{message.sent}</span>
                    <span class="chat-text">{message.text}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}
