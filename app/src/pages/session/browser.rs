//! The session page's dealings with the desktop frame (browser only; no-ops on the server).
//! The frame (public/viewer.html) and this page talk with JSON strings over postMessage.
use serde::{Deserialize, Serialize};

pub const FRAME_ID: &str = "desktop-frame";
pub const VIEW_ID: &str = "session-view";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FrameMessage {
    Connected,
    Disconnected,
    Clipboard { text: String },
    Paste { text: String },
    Reconnect,
    Focus,
}

#[cfg(feature = "hydrate")]
pub fn send(message: &FrameMessage) {
    use leptos::wasm_bindgen::JsCast;
    let Some(frame) = leptos::prelude::document()
        .get_element_by_id(FRAME_ID)
        .and_then(|element| element.dyn_into::<web_sys::HtmlIFrameElement>().ok())
    else {
        return;
    };
    if let (Some(window), Ok(text), Ok(origin)) = (
        frame.content_window(),
        serde_json::to_string(message),
        leptos::prelude::window().location().origin(),
    ) {
        let _ = window.post_message(&text.into(), &origin);
    }
}

#[cfg(not(feature = "hydrate"))]
pub fn send(_message: &FrameMessage) {}

#[cfg(feature = "hydrate")]
pub fn fullscreen() {
    if let Some(view) = leptos::prelude::document().get_element_by_id(VIEW_ID) {
        let _ = view.request_fullscreen();
    }
}

#[cfg(not(feature = "hydrate"))]
pub fn fullscreen() {}

/// Calls `on_message` with each message the frame posts (same origin only).
#[cfg(feature = "hydrate")]
pub fn listen(on_message: impl Fn(FrameMessage) + 'static) {
    use leptos::prelude::window_event_listener;
    let origin = leptos::prelude::window()
        .location()
        .origin()
        .unwrap_or_default();
    let handle = window_event_listener(leptos::ev::message, move |event: web_sys::MessageEvent| {
        if event.origin() != origin {
            return;
        }
        if let Some(message) = event
            .data()
            .as_string()
            .and_then(|text| serde_json::from_str(&text).ok())
        {
            on_message(message);
        }
    });
    leptos::prelude::on_cleanup(move || handle.remove());
}

#[cfg(not(feature = "hydrate"))]
pub fn listen(_on_message: impl Fn(FrameMessage) + 'static) {}
