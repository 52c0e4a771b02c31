//! A desktop stream once authorized: Berth greets the browser as an RFB server (security type
//! None, greeting.rs), then relays between the browser's WebSocket and the session's VNC
//! server, with which it has already authenticated. The owner's bytes go through as they
//! come; a viewer's go through the view-only filter, which forwards whole messages only, and
//! the stream ends when the viewer loses access. No idle timeout.
use super::greeting::{Greeting, SERVER_VERSION};
use super::viewonly::ViewOnlyFilter;
use crate::metrics::names::PROXY_BYTES;
use crate::rfb::Authenticated;
use crate::share::Watcher;
use axum::extract::ws::{Message, WebSocket};
use bytes::BytesMut;
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
) {
    let _counted = Relayed::start();
    let _active = crate::metrics::ActiveStream::start("desktop");
    let to_desktop_bytes = metrics::counter!(PROXY_BYTES, "direction" => "to_desktop");
    let to_browser_bytes = metrics::counter!(PROXY_BYTES, "direction" => "to_browser");
    let (mut browser_tx, mut browser_rx) = browser.split();
    let greeted = tokio::time::timeout(GREETING, greet(&mut browser_tx, &mut browser_rx)).await;
    let rest = match greeted {
        Ok(Ok(rest)) => rest,
        Ok(Err(reason)) => {
            tracing::debug!(reason, "a browser's RFB handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("a browser's RFB handshake timed out");
            return;
        }
    };
    let Authenticated { stream, pending } = upstream;
    let (mut vnc_rx, mut vnc_tx) = tokio::io::split(stream);
    let to_vnc = async {
        let mut filter = viewer
            .as_ref()
            .map(|viewer| (ViewOnlyFilter::new(), viewer));
        if forward(&mut vnc_tx, &mut filter, &rest).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = browser_rx.next().await {
            match message {
                Message::Binary(bytes) => {
                    to_desktop_bytes.increment(bytes.len() as u64);
                    if forward(&mut vnc_tx, &mut filter, &bytes).await.is_err() {
                        return;
                    }
                }
                Message::Close(_) => return,
                // Text has no meaning in RFB; pings are answered by the WebSocket itself.
                _ => {}
            }
        }
    };
    let to_browser = async {
        if !pending.is_empty()
            && browser_tx
                .send(Message::Binary(pending.into()))
                .await
                .is_err()
        {
            return;
        }
        let mut buffer = BytesMut::with_capacity(BUFFER);
        loop {
            buffer.reserve(BUFFER);
            match vnc_rx.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let chunk = buffer.split().freeze();
            to_browser_bytes.increment(chunk.len() as u64);
            if browser_tx.send(Message::Binary(chunk)).await.is_err() {
                return;
            }
        }
        let _ = browser_tx.close().await;
    };
    let revoked = async {
        match &viewer {
            Some(viewer) => viewer.kill.notified().await,
            None => std::future::pending().await,
        }
    };
    // When either side ends (or the access it was opened with does), the other is dropped
    // and closed.
    tokio::select! {
        _ = to_vnc => {},
        _ = to_browser => {},
        _ = revoked => {},
        () = access.ended() => {},
    }
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

/// The browser's bytes to the VNC server: as they are for the owner, through the filter for
/// a viewer (whose control is read as each message completes).
async fn forward<W: tokio::io::AsyncWrite + Unpin>(
    vnc: &mut W,
    filter: &mut Option<(ViewOnlyFilter, &Arc<Watcher>)>,
    bytes: &[u8],
) -> Result<(), ()> {
    let allowed;
    let bytes = match filter {
        None => bytes,
        Some((filter, viewer)) => {
            let control = viewer.control.load(Ordering::SeqCst);
            allowed = filter.feed(bytes, control).map_err(|refused| {
                tracing::warn!(user_id = %viewer.user_id, %refused, "viewer disconnected");
            })?;
            &allowed
        }
    };
    if bytes.is_empty() {
        return Ok(());
    }
    vnc.write_all(bytes).await.map_err(drop)
}
