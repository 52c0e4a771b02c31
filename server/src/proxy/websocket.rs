//! Viewers' WebSockets to a session container: the browser's socket and the container's,
//! bridged message by message with backpressure (each message is sent before the next is
//! read), so that a viewer's input goes through the view-only filter; no idle timeout. The
//! owner's stream is relayed as bytes instead (passthrough.rs).
use super::viewonly::ViewOnlyFilter;
use super::{refuse, Target};
use crate::agent::ready::basic_auth;
use crate::share::{ShareHub, Watcher};
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::{self as tung, client::IntoClientRequest};
use uuid::Uuid;

pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Browsers always send Origin on WebSockets; only our own pages may open one.
pub fn origin_allowed(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host));
    same_host || public_origin.is_some_and(|public| origin.eq_ignore_ascii_case(public))
}

fn requested_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the container first (so a dead desktop is a clean 502), then upgrades. With a
/// `viewer`, the client's stream goes through the view-only filter unless they hold control,
/// and the connection ends when they lose access.
pub async fn bridge(
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    target: Target,
    path: String,
    viewer: Option<Arc<Watcher>>,
    unwatch: Option<(Arc<ShareHub>, Uuid, u64)>,
) -> Response {
    let port = target.port.expect("authorized targets have a port");
    let protocols = requested_protocols(headers);
    let mut request = match format!("ws://{}:{port}{path}", target.host).into_client_request() {
        Ok(request) => request,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "Bad path."),
    };
    request.headers_mut().insert(
        header::AUTHORIZATION,
        basic_auth(&target.secret).parse().unwrap(),
    );
    if !protocols.is_empty() {
        request.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            protocols.join(", ").parse().unwrap(),
        );
    }
    // Nagle off: input events are small and must not wait for the next packet.
    let connected = tokio_tungstenite::connect_async_with_config(request, None, true).await;
    let (upstream, answer) = match connected {
        Ok(connected) => connected,
        Err(error) => {
            tracing::warn!(%error, "session websocket unreachable");
            return refuse(
                StatusCode::BAD_GATEWAY,
                "The session's desktop is not answering.",
            );
        }
    };
    let chosen: Vec<String> = answer
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|v| vec![v.to_owned()])
        .unwrap_or_default();
    upgrade
        .protocols(chosen)
        .max_message_size(64 << 20)
        .on_upgrade(move |client| async move {
            pump(client, upstream, viewer).await;
            if let Some((hub, kasm_id, id)) = unwatch {
                hub.unwatch(kasm_id, id);
            }
        })
}

/// What a viewer's message becomes: forwarded (perhaps reduced), dropped, or the end.
fn screen(
    filter: &mut ViewOnlyFilter,
    viewer: &Watcher,
    message: ws::Message,
) -> Result<Option<ws::Message>, ()> {
    match message {
        ws::Message::Binary(bytes) => {
            let allowed = filter.feed(&bytes).map_err(|refused| {
                tracing::warn!(user_id = %viewer.user_id, %refused, "viewer disconnected");
            })?;
            if viewer.control.load(Ordering::SeqCst) {
                Ok(Some(ws::Message::Binary(bytes)))
            } else if allowed.is_empty() {
                Ok(None)
            } else {
                Ok(Some(ws::Message::Binary(allowed.into())))
            }
        }
        ws::Message::Text(_) => Ok(None),
        other => Ok(Some(other)),
    }
}

async fn pump(client: WebSocket, upstream: Upstream, viewer: Option<Arc<Watcher>>) {
    let (mut client_tx, mut client_rx) = client.split();
    let (mut upstream_tx, mut upstream_rx) = upstream.split();
    let to_container = async {
        let mut filter = ViewOnlyFilter::new();
        while let Some(Ok(message)) = client_rx.next().await {
            let message = match &viewer {
                None => message,
                Some(viewer) => match screen(&mut filter, viewer, message) {
                    Ok(Some(message)) => message,
                    Ok(None) => continue,
                    Err(()) => break,
                },
            };
            let close = matches!(message, ws::Message::Close(_));
            if upstream_tx.send(to_tungstenite(message)).await.is_err() || close {
                break;
            }
        }
        let _ = upstream_tx.close().await;
    };
    let revoked = async {
        match &viewer {
            Some(viewer) => viewer.kill.notified().await,
            None => std::future::pending().await,
        }
    };
    let to_browser = async {
        while let Some(Ok(message)) = upstream_rx.next().await {
            let Some(message) = from_tungstenite(message) else {
                continue;
            };
            let close = matches!(message, ws::Message::Close(_));
            if client_tx.send(message).await.is_err() || close {
                break;
            }
        }
        let _ = client_tx.close().await;
    };
    // When either side ends, the other is dropped (and so closed).
    tokio::select! {
        _ = to_container => {},
        _ = to_browser => {},
        _ = revoked => {},
    }
}

fn to_tungstenite(message: ws::Message) -> tung::Message {
    match message {
        ws::Message::Binary(bytes) => tung::Message::Binary(bytes),
        ws::Message::Text(text) => tung::Message::Text(text.as_str().into()),
        ws::Message::Ping(bytes) => tung::Message::Ping(bytes),
        ws::Message::Pong(bytes) => tung::Message::Pong(bytes),
        ws::Message::Close(frame) => {
            tung::Message::Close(frame.map(|f| tung::protocol::CloseFrame {
                code: f.code.into(),
                reason: f.reason.as_str().into(),
            }))
        }
    }
}

fn from_tungstenite(message: tung::Message) -> Option<ws::Message> {
    Some(match message {
        tung::Message::Binary(bytes) => ws::Message::Binary(bytes),
        tung::Message::Text(text) => ws::Message::Text(text.as_str().into()),
        tung::Message::Ping(bytes) => ws::Message::Ping(bytes),
        tung::Message::Pong(bytes) => ws::Message::Pong(bytes),
        tung::Message::Close(frame) => ws::Message::Close(frame.map(|f| ws::CloseFrame {
            code: f.code.into(),
            reason: f.reason.as_str().into(),
        })),
        tung::Message::Frame(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_origin_may_open_a_desktop_socket() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(!origin_allowed(&headers, None), "no Origin");
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(origin_allowed(&headers, None));
        headers.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!origin_allowed(&headers, None));
        assert!(origin_allowed(&headers, Some("http://evil.example")));
    }
}
