//! A desktop stream once authorized: Berth greets the browser as an RFB server (security type
//! None, greeting.rs), then relays between the browser's WebSocket and the session's VNC
//! server, with which it has already authenticated. The owner's bytes go through as they
//! come; a viewer's go through the view-only filter, which forwards whole messages only, and
//! the stream ends when the viewer loses access. When the session's owner may not paste into
//! it (`allow_kasm_clipboard_up` off), everyone's bytes go through that filter, which then
//! drops ClientCutText. When the owner's `idle_disconnect` is set, every stream of the session
//! (the owner's and the viewers') closes once the owner sent no input for it (idle.rs).
use super::greeting::{Greeting, SERVER_VERSION};
use super::idle::IdleWatch;
use super::servercut::{PixelSize, ServerCutFilter};
use super::viewonly::ViewOnlyFilter;
use crate::metrics::names::PROXY_BYTES;
use crate::rfb::Authenticated;
use crate::share::Watcher;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The browser's side of the handshake must be done within this (it holds a VNC connection).
const GREETING: Duration = Duration::from_secs(30);
/// Bytes read from the VNC server at once, at most: one WebSocket message each. 128 KiB, as
/// the byte relay before it measured best on two vCPUs (bench/README.md).
const BUFFER: usize = 128 * 1024;
/// The largest message a browser may send (clipboard text is the only big one).
pub const MAX_BROWSER_MESSAGE: usize = 4 << 20;

type BrowserTx = SplitSink<WebSocket, Message>;
type BrowserRx = SplitStream<WebSocket>;

/// Streams being relayed (from the upgrade to the end of the relay).
static RELAYED: AtomicUsize = AtomicUsize::new(0);

/// Counts one relayed stream; the last one to end hands freed memory back to the system.
struct Relayed;

impl Relayed {
    fn start() -> Self {
        RELAYED.fetch_add(1, Ordering::SeqCst);
        Relayed
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        // glibc keeps what is freed in its per-thread arenas: after a burst of streams (their
        // buffers allocated on whichever worker thread first polled them) the process would
        // stay at its high-water mark.
        if RELAYED.fetch_sub(1, Ordering::SeqCst) == 1 {
            crate::memory::release_freed();
        }
    }
}

/// Runs one browser's stream to the end.
pub async fn serve(
    browser: WebSocket,
    upstream: Authenticated,
    viewer: Option<Arc<Watcher>>,
    access: crate::access::Registration,
    clipboard: super::Clipboard,
    idle: Option<IdleWatch>,
) -> Ended {
    let _counted = Relayed::start();
    let _active = crate::metrics::ActiveStream::start("desktop");
    let (mut browser_tx, mut browser_rx) = browser.split();
    let Some(rest) = greet_within(&mut browser_tx, &mut browser_rx).await else {
        return Ended::Closed;
    };
    let Authenticated { stream, pending } = upstream;
    let (mut vnc_rx, mut vnc_tx) = tokio::io::split(stream);
    // Clipboard down off: the server's stream is read to drop ServerCutText.
    let pixel = (!clipboard.down).then(|| Arc::new(AtomicUsize::new(4)));
    let outbound = pixel.clone().map(ServerCutFilter::new);
    let inbound = inbound_filter(viewer.as_ref(), clipboard, pixel, idle.is_some());
    let idle = idle.as_ref();
    let to_vnc = browser_to_server(&mut browser_rx, &mut vnc_tx, inbound, rest, idle);
    let to_browser = server_to_browser(&mut browser_tx, &mut vnc_rx, pending, outbound);
    // When either side ends (or the access it was opened with does, or the owner idles
    // out), the other is dropped and closed.
    let idled_out = tokio::select! {
        _ = to_vnc => false,
        _ = to_browser => false,
        _ = revoked(viewer.as_deref()) => false,
        () = access.ended() => false,
        () = idled(idle) => true,
    };
    if idled_out {
        // Tells the browser why (the session page shows it from the status call, and offers
        // to reconnect).
        let frame = CloseFrame {
            code: super::idle::CLOSE_CODE,
            reason: super::idle::CLOSE_REASON.into(),
        };
        let _ = browser_tx.send(Message::Close(Some(frame))).await;
        return Ended::IdledOut;
    }
    Ended::Closed
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The owner sent no input for their idle limit.
    IdledOut,
    /// Either side closed, or the access it was opened with ended.
    Closed,
}

/// Resolves when the owner has sent no input for the idle limit; never without one.
async fn idled(idle: Option<&IdleWatch>) {
    match idle {
        Some(idle) => idle.idled_out().await,
        None => std::future::pending().await,
    }
}

/// Berth's side of the RFB handshake, within [`GREETING`]: what the browser sent past it, or
/// None when it failed (logged at debug: a browser that went away is not an error).
async fn greet_within(browser_tx: &mut BrowserTx, browser_rx: &mut BrowserRx) -> Option<Vec<u8>> {
    match tokio::time::timeout(GREETING, greet(browser_tx, browser_rx)).await {
        Ok(Ok(rest)) => Some(rest),
        Ok(Err(reason)) => {
            tracing::debug!(reason, "a browser's RFB handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("a browser's RFB handshake timed out");
            None
        }
    }
}

/// The browser's messages to the VNC server (through the filter when there is one), starting
/// with what it sent past the handshake; ends when either side does.
async fn browser_to_server<W: tokio::io::AsyncWrite + Unpin>(
    browser_rx: &mut BrowserRx,
    vnc_tx: &mut W,
    mut filter: Inbound<'_>,
    rest: Vec<u8>,
    idle: Option<&IdleWatch>,
) {
    let to_desktop_bytes = metrics::counter!(PROXY_BYTES, "direction" => "to_desktop");
    if forward(vnc_tx, &mut filter, &rest, idle).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = browser_rx.next().await {
        match message {
            Message::Binary(bytes) => {
                to_desktop_bytes.increment(bytes.len() as u64);
                if forward(vnc_tx, &mut filter, &bytes, idle).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => return,
            // Text has no meaning in RFB; pings are answered by the WebSocket itself.
            _ => {}
        }
    }
}

/// Resolves when a viewer's access to the stream is taken away; never for the owner.
async fn revoked(viewer: Option<&Watcher>) {
    match viewer {
        Some(viewer) => viewer.kill.notified().await,
        None => std::future::pending().await,
    }
}

/// The VNC server's bytes to the browser, a WebSocket message per read (through the
/// clipboard-down filter when there is one); closes the browser's side when the server's
/// ends.
async fn server_to_browser<R: tokio::io::AsyncRead + Unpin>(
    browser_tx: &mut BrowserTx,
    vnc_rx: &mut R,
    pending: Vec<u8>,
    mut outbound: Option<ServerCutFilter>,
) {
    let to_browser_bytes = metrics::counter!(PROXY_BYTES, "direction" => "to_browser");
    let mut buffer = BytesMut::with_capacity(BUFFER);
    buffer.extend_from_slice(&pending);
    loop {
        if buffer.is_empty() {
            buffer.reserve(BUFFER);
            match vnc_rx.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let chunk = buffer.split().freeze();
        to_browser_bytes.increment(chunk.len() as u64);
        let chunk = match outbound.as_mut().map(|filter| filter.feed(&chunk)) {
            None => chunk,
            Some(Ok(kept)) => Bytes::from(kept),
            Some(Err(unreadable)) => {
                tracing::warn!(%unreadable, "desktop stream ended: the clipboard filter cannot read it");
                break;
            }
        };
        if !chunk.is_empty() && browser_tx.send(Message::Binary(chunk)).await.is_err() {
            return;
        }
    }
    let _ = browser_tx.close().await;
}

/// Berth's greeting, and the browser's answers up to its choice of security type: what the
/// browser sent past that (ClientInit) is returned, for the VNC server.
async fn greet(tx: &mut BrowserTx, rx: &mut BrowserRx) -> Result<Vec<u8>, String> {
    let send = |bytes: Vec<u8>| Message::Binary(bytes.into());
    tx.send(send(SERVER_VERSION.to_vec()))
        .await
        .map_err(|e| e.to_string())?;
    let mut greeting = Greeting::new();
    loop {
        let bytes = match rx.next().await {
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Close(_))) | None => return Err("the browser left".into()),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.to_string()),
        };
        match greeting.feed(&bytes) {
            Ok(progress) => {
                if !progress.reply.is_empty() {
                    tx.send(send(progress.reply))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                if let Some(rest) = progress.rest {
                    return Ok(rest);
                }
            }
            Err(refused) => {
                let _ = tx.send(send(refused.reply())).await;
                return Err(refused.to_string());
            }
        }
    }
}

/// The filter of the browser's bytes, if any: a viewer's (and the viewer, whose control is
/// read as each message completes), or the owner's when the clipboard may not go up.
type Inbound<'a> = Option<(ViewOnlyFilter, Option<&'a Arc<Watcher>>)>;

fn inbound_filter(
    viewer: Option<&Arc<Watcher>>,
    clipboard: super::Clipboard,
    pixel: Option<PixelSize>,
    watch_input: bool,
) -> Inbound<'_> {
    let mut filter = match viewer {
        Some(_) => ViewOnlyFilter::new(),
        None if clipboard.up && pixel.is_none() && !watch_input => return None,
        None => ViewOnlyFilter::owner(),
    };
    if !clipboard.up {
        filter = filter.without_cut_text();
    }
    if let Some(pixel) = pixel {
        filter = filter.measured_by(pixel);
    }
    Some((filter, viewer))
}

/// The browser's bytes to the VNC server: as they are for the owner, else through the filter.
async fn forward<W: tokio::io::AsyncWrite + Unpin>(
    vnc: &mut W,
    filter: &mut Inbound<'_>,
    bytes: &[u8],
    idle: Option<&IdleWatch>,
) -> Result<(), ()> {
    let allowed;
    let bytes = match filter {
        None => bytes,
        Some((filter, viewer)) => {
            let control = viewer.is_none_or(|viewer| viewer.control.load(Ordering::SeqCst));
            allowed = filter.feed(bytes, control).map_err(|refused| {
                let user_id = viewer.map(|viewer| viewer.user_id);
                tracing::warn!(?user_id, %refused, "desktop stream disconnected");
            })?;
            if filter.take_input() {
                if let Some(idle) = idle {
                    idle.input();
                }
            }
            &allowed
        }
    };
    if bytes.is_empty() {
        return Ok(());
    }
    vnc.write_all(bytes).await.map_err(drop)
}
