//! The browser side of the file panel: XHR to `/files/{session_id}` (JSON listings; uploads as
//! the raw file, its length declared, with upload progress), one upload at a time, queued.
use super::{Listed, Listing, Offer, Progress};
use leptos::prelude::*;
use leptos::wasm_bindgen::closure::Closure;
use leptos::wasm_bindgen::JsCast;
use std::cell::RefCell;
use std::collections::VecDeque;
use web_sys::{File, FileList, ProgressEvent, XmlHttpRequest};

thread_local! {
    /// The upload under way, for Cancel.
    static CURRENT: RefCell<Option<XmlHttpRequest>> = const { RefCell::new(None) };
    /// Files waiting their turn.
    static QUEUE: RefCell<VecDeque<File>> = const { RefCell::new(VecDeque::new()) };
}

/// The error message of a failed request (the server's `error`, else its status).
fn failure(xhr: &XmlHttpRequest) -> String {
    let status = xhr.status().unwrap_or(0);
    if status == 0 {
        return "The connection was interrupted.".into();
    }
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("The server answered {status}."))
}

/// GETs `url` and hands over its JSON body (or the error's message).
fn get_json<T: serde::de::DeserializeOwned + 'static>(
    url: &str,
    done: impl FnOnce(Result<T, String>) + 'static,
) {
    let Ok(xhr) = XmlHttpRequest::new() else {
        return;
    };
    if xhr.open("GET", url).is_err() {
        return;
    }
    let answered = xhr.clone();
    let on_end = Closure::once_into_js(move || {
        let status = answered.status().unwrap_or(0);
        if (200..300).contains(&status) {
            let text = answered.response_text().ok().flatten().unwrap_or_default();
            done(serde_json::from_str(&text).map_err(|error| error.to_string()));
        } else {
            done(Err(failure(&answered)));
        }
    });
    xhr.set_onloadend(Some(on_end.unchecked_ref()));
    let _ = xhr.send();
}

pub fn offer(
    base: String,
    offer: RwSignal<Option<Offer>>,
    message: RwSignal<Option<String>>,
    then: impl Fn() + 'static,
) {
    get_json::<Offer>(&base, move |answer| match answer {
        Ok(answer) => {
            let downloads = answer.downloads;
            offer.set(Some(answer));
            if downloads {
                then();
            }
        }
        Err(error) => message.set(Some(error)),
    });
}

pub fn list(base: String, files: RwSignal<Vec<Listed>>, message: RwSignal<Option<String>>) {
    get_json::<Listing>(&format!("{base}/downloads"), move |answer| match answer {
        Ok(listing) => files.set(listing.files),
        Err(error) => message.set(Some(error)),
    });
}

/// Files dropped on the desktop: the frame (public/viewer.js) posts their FileList.
pub fn listen_for_drops(
    base: String,
    progress: RwSignal<Option<Progress>>,
    message: RwSignal<Option<String>>,
) {
    let origin = window().location().origin().unwrap_or_default();
    let handle = window_event_listener(leptos::ev::message, move |event: web_sys::MessageEvent| {
        if event.origin() != origin {
            return;
        }
        if let Ok(list) = event.data().dyn_into::<FileList>() {
            enqueue(&list, base.clone(), progress, message);
        }
    });
    on_cleanup(move || handle.remove());
}

pub fn upload_picked(
    event: &leptos::ev::Event,
    base: String,
    progress: RwSignal<Option<Progress>>,
    message: RwSignal<Option<String>>,
) {
    let input = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok());
    if let Some(input) = input {
        if let Some(list) = input.files() {
            enqueue(&list, base, progress, message);
        }
        input.set_value("");
    }
}

pub fn upload_dropped(
    event: &leptos::ev::DragEvent,
    base: String,
    progress: RwSignal<Option<Progress>>,
    message: RwSignal<Option<String>>,
) {
    event.prevent_default();
    if let Some(list) = event.data_transfer().and_then(|data| data.files()) {
        enqueue(&list, base, progress, message);
    }
}

fn enqueue(
    list: &FileList,
    base: String,
    progress: RwSignal<Option<Progress>>,
    message: RwSignal<Option<String>>,
) {
    QUEUE.with(|queue| {
        let mut queue = queue.borrow_mut();
        for index in 0..list.length() {
            if let Some(file) = list.get(index) {
                queue.push_back(file);
            }
        }
    });
    if CURRENT.with(|current| current.borrow().is_none()) {
        next(base, progress, message);
    }
}

/// Starts the next queued upload, if any.
fn next(base: String, progress: RwSignal<Option<Progress>>, message: RwSignal<Option<String>>) {
    let Some(file) = QUEUE.with(|queue| queue.borrow_mut().pop_front()) else {
        progress.set(None);
        return;
    };
    let name = file.name();
    let Ok(xhr) = XmlHttpRequest::new() else {
        return;
    };
    let url = format!("{base}/uploads/{}", super::encode_segment(&name));
    if xhr.open("PUT", &url).is_err() {
        return;
    }
    let total = file.size();
    progress.set(Some(Progress {
        name: name.clone(),
        sent: 0.0,
        total,
    }));
    let shown = name.clone();
    let on_progress = Closure::<dyn Fn(ProgressEvent)>::new(move |event: ProgressEvent| {
        progress.set(Some(Progress {
            name: shown.clone(),
            sent: event.loaded(),
            total,
        }));
    });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    let answered = xhr.clone();
    let on_end = Closure::once_into_js(move || {
        drop(on_progress);
        let status = answered.status().unwrap_or(0);
        let cancelled = CURRENT
            .with(|current| current.borrow_mut().take())
            .is_none();
        message.set(Some(if (200..300).contains(&status) {
            format!("Uploaded {name} to ~/Uploads.")
        } else if cancelled {
            format!("Cancelled the upload of {name}.")
        } else {
            format!("{name}: {}", failure(&answered))
        }));
        next(base, progress, message);
    });
    xhr.set_onloadend(Some(on_end.unchecked_ref()));
    CURRENT.with(|current| *current.borrow_mut() = Some(xhr.clone()));
    let _ = xhr.send_with_opt_blob(Some(&file));
}

/// Cancels the upload under way and those waiting.
pub fn cancel() {
    QUEUE.with(|queue| queue.borrow_mut().clear());
    if let Some(xhr) = CURRENT.with(|current| current.borrow_mut().take()) {
        let _ = xhr.abort();
    }
}
