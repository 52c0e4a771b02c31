//! The control panel's file transfer (issue #15): upload files into the session's `~/Uploads`
//! (picked, or dropped on the panel or the desktop) with a progress bar and Cancel, and the
//! files of its `~/Downloads` to download. Talks to the server's `/files/{session_id}`
//! endpoints from the browser (XHR, for upload progress); the parts the owner's groups turn off
//! (`allow_kasm_uploads`, `allow_kasm_downloads`) are not shown.
use leptos::prelude::*;
use serde::Deserialize;

/// What the panel offers (`GET /files/{session_id}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Offer {
    pub uploads: bool,
    pub downloads: bool,
    pub upload_limit_bytes: Option<u64>,
}

/// One file of `~/Downloads`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub modified: String,
}

/// `GET /files/{session_id}/downloads` (read in the browser only).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, Deserialize)]
struct Listing {
    files: Vec<Listed>,
}

/// An upload under way: the file's name, bytes sent, bytes in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub name: String,
    pub sent: f64,
    pub total: f64,
}

/// A size for people: "0 B", "12.3 kB", "4.0 MB" (powers of 1000, as the limit is given).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `text` percent-encoded as one URL path segment (as JavaScript's encodeURIComponent).
pub fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[component]
pub fn FileTransfer(session_id: String) -> impl IntoView {
    let base = StoredValue::new(format!("/files/{session_id}"));
    let offer = RwSignal::new(None::<Offer>);
    let files = RwSignal::new(Vec::<Listed>::new());
    let progress = RwSignal::new(None::<Progress>);
    let message = RwSignal::new(None::<String>);
    let refresh = move || transfer::list(base.get_value(), files, message);
    Effect::new(move |_| {
        transfer::offer(base.get_value(), offer, message, refresh);
        transfer::listen_for_drops(base.get_value(), progress, message);
    });
    view! {
        <section class="files" id="files">
            <h3>"Files"</h3>
            {move || offer.get().map(|offer| view! {
                <Show when=move || offer.uploads>
                    <UploadControls base progress message limit=offer.upload_limit_bytes />
                </Show>
                <Show when=move || offer.downloads>
                    <DownloadList base files refresh />
                </Show>
                <Show when=move || !offer.uploads && !offer.downloads>
                    <p class="muted small">"File transfer is turned off by the administrator."</p>
                </Show>
            }.into_any())}
            <p class="small" id="files-message" role="status">{move || message.get()}</p>
        </section>
    }
    .into_any()
}

#[component]
fn UploadControls(
    base: StoredValue<String>,
    progress: RwSignal<Option<Progress>>,
    message: RwSignal<Option<String>>,
    limit: Option<u64>,
) -> impl IntoView {
    let hint = match limit {
        Some(limit) => format!("Into ~/Uploads, up to {} a file.", human_size(limit)),
        None => "Into ~/Uploads.".to_owned(),
    };
    view! {
        <label class="panel-button" for="upload-input">"Upload files…"</label>
        <input type="file" id="upload-input" multiple class="visually-hidden" on:change=move |event| {
            transfer::upload_picked(&event, base.get_value(), progress, message);
        } />
        <div class="drop-zone" id="upload-drop"
            on:dragover=move |event| event.prevent_default()
            on:drop=move |event| transfer::upload_dropped(&event, base.get_value(), progress, message)>
            "Drop files here or on the desktop"
        </div>
        <p class="muted small">{hint}</p>
        {move || progress.get().map(|now| {
            let percent = if now.total > 0.0 { now.sent / now.total * 100.0 } else { 0.0 };
            view! {
                <div class="upload-progress" id="upload-progress" data-name=now.name.clone()>
                    <span class="small">{format!("{} — {percent:.0} %", now.name)}</span>
                    <progress max=now.total value=now.sent></progress>
                    <button class="link danger" id="upload-cancel" on:click=move |_| transfer::cancel()>"Cancel"</button>
                </div>
            }
        })}
    }
    .into_any()
}

#[component]
fn DownloadList(
    base: StoredValue<String>,
    files: RwSignal<Vec<Listed>>,
    refresh: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="row-actions">
            <span class="small">"In ~/Downloads:"</span>
            <button class="link" id="downloads-refresh" on:click=move |_| refresh()>"Refresh"</button>
        </div>
        <ul class="downloads" id="downloads">
            {move || files.get().into_iter().map(|file| {
                let href = format!("{}/downloads/{}", base.get_value(), encode_segment(&file.name));
                view! {
                    <li class="download" data-name=file.name.clone()>
                        <a href=href download=file.name.clone()>{file.name.clone()}</a>
                        <span class="muted small">{format!(" {} · {}", human_size(file.size), file.modified.replace('T', " ").trim_end_matches('Z'))}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
        {move || files.get().is_empty().then(|| view! { <p class="muted small">"Nothing yet: files saved to ~/Downloads in the desktop appear here."</p> })}
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
#[path = "files_web.rs"]
mod transfer;

/// On the server, nothing runs: the panel is filled in the browser.
#[cfg(not(feature = "hydrate"))]
mod transfer {
    use super::*;

    pub fn offer(
        _base: String,
        _offer: RwSignal<Option<Offer>>,
        _message: RwSignal<Option<String>>,
        _then: impl Fn() + 'static,
    ) {
    }
    pub fn list(_base: String, _files: RwSignal<Vec<Listed>>, _message: RwSignal<Option<String>>) {}
    pub fn listen_for_drops(
        _base: String,
        _progress: RwSignal<Option<Progress>>,
        _message: RwSignal<Option<String>>,
    ) {
    }
    pub fn upload_picked(
        _event: &leptos::ev::Event,
        _base: String,
        _progress: RwSignal<Option<Progress>>,
        _message: RwSignal<Option<String>>,
    ) {
    }
    pub fn upload_dropped(
        _event: &leptos::ev::DragEvent,
        _base: String,
        _progress: RwSignal<Option<Progress>>,
        _message: RwSignal<Option<String>>,
    ) {
    }
    pub fn cancel() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names_are_shown_and_encoded() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_500), "1.5 kB");
        assert_eq!(human_size(200_000_000), "200.0 MB");
        assert_eq!(human_size(1_024_000_000), "1.0 GB");
        assert_eq!(encode_segment("a b/é?#.txt"), "a%20b%2F%C3%A9%3F%23.txt");
    }
}
