//! The session owner's desktop stream, relayed as raw bytes as nginx does: once the request is
//! authorized, Berth makes the WebSocket handshake with the container itself (forwarding the
//! browser's key, so the container's accept value is the one the browser expects), answers
//! the browser with the container's 101, and then copies bytes both ways without terminating
//! either WebSocket. Nothing from the browser reaches the container but the key, the version
//! and the requested subprotocols; the session's own secret is added. No idle timeout.
//!
//! Viewers of a shared session do not come here: their input must be filtered message by
//! message (websocket.rs).
use super::{refuse, Target};
use crate::agent::ready::basic_auth;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode, Version};
use axum::response::Response;
use base64::Engine;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Connecting to the container, sending the upgrade and reading its answer, at most.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The container's response head, at most (websockify's is about 200 bytes).
const MAX_HEAD: usize = 16 * 1024;
/// One buffer per direction, as nginx's `proxy_buffer_size`. 128 KiB rather than nginx's 64k:
/// with 64 KiB Berth matched nginx-64k's CPU per byte but not quite its throughput on two
/// vCPUs (0.91-1.03x); with 128 KiB, fewer reads and writes per byte put it ahead, for about
/// 130 KiB more per stream while it is open (bench/README.md).
const BUFFER: usize = 128 * 1024;

/// Streams being relayed (from the container's handshake to the end of the relay).
static RELAYED: AtomicUsize = AtomicUsize::new(0);

/// Counts one relayed stream; the last one to end hands freed memory back to the system.
struct Relayed;

impl Relayed {
    fn start() -> Self {
        static TUNED: std::sync::Once = std::sync::Once::new();
        TUNED.call_once(restore_trim_threshold);
        RELAYED.fetch_add(1, Ordering::SeqCst);
        Relayed
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        if RELAYED.fetch_sub(1, Ordering::SeqCst) == 1 {
            release_freed_memory();
        }
    }
}

/// glibc gives the free top of a thread's arena back only past its trim threshold, and it
/// raises that threshold to twice the largest block it has mmapped and freed (one is
/// enough), so the two buffers of 100 streams stayed resident once freed. Fixing the
/// threshold at glibc's default (128 KiB) turns that adjustment off; `malloc_trim` (which
/// leaves threads' arena tops alone) still returns the free pages inside the arenas.
fn restore_trim_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a glibc tuning parameter under its own lock.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// glibc keeps what is freed in its per-thread arenas: after a burst of streams (two 128 KiB
/// buffers each, allocated on whichever worker thread first polls them) the process would
/// stay at its high-water mark. `malloc_trim` returns the free pages of every arena; it runs
/// only when no stream is left, off the runtime's worker threads.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn_blocking(|| {
            // SAFETY: malloc_trim only takes glibc's own arena locks; any thread may call it.
            unsafe { libc::malloc_trim(0) };
        });
    }
}

/// What the browser asked for, checked.
#[derive(Debug, PartialEq)]
pub struct Offer {
    key: String,
    protocols: Vec<String>,
}

/// The browser's upgrade request, with the checks (and the answers) axum's `WebSocketUpgrade`
/// gives, plus a well-formed key and subprotocol names, since both are written into the
/// container's request.
pub fn offer(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<Offer, (StatusCode, &'static str)> {
    if version > Version::HTTP_11 {
        return Err((
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "WebSockets need HTTP/1.1.",
        ));
    }
    if method != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "Request method must be `GET`",
        ));
    }
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if !value(header::CONNECTION).is_some_and(|v| has_token(v, "upgrade")) {
        return Err((
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade'",
        ));
    }
    if !value(header::UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include 'websocket'",
        ));
    }
    if value(header::SEC_WEBSOCKET_VERSION) != Some("13") {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    let key = value(header::SEC_WEBSOCKET_KEY).ok_or((
        StatusCode::BAD_REQUEST,
        "`Sec-WebSocket-Key` header missing",
    ))?;
    // A nonce of 16 bytes, base64 (RFC 6455 4.1): nothing else is written upstream.
    let nonce = base64::engine::general_purpose::STANDARD.decode(key);
    if !nonce.is_ok_and(|nonce| nonce.len() == 16) {
        return Err((StatusCode::BAD_REQUEST, "Bad `Sec-WebSocket-Key`."));
    }
    let mut protocols = Vec::new();
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let value = value
            .to_str()
            .map_err(|_| (StatusCode::BAD_REQUEST, "Bad `Sec-WebSocket-Protocol`."))?;
        for protocol in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !protocol.bytes().all(is_tchar) {
                return Err((StatusCode::BAD_REQUEST, "Bad `Sec-WebSocket-Protocol`."));
            }
            protocols.push(protocol.to_owned());
        }
    }
    Ok(Offer {
        key: key.to_owned(),
        protocols,
    })
}

/// RFC 9110 token characters (subprotocol names are tokens).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

/// Printable ASCII without spaces: safe to write into a request line or a header.
fn is_visible(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

/// The container's upgrade request, written by hand: only what the handshake needs and the
/// session's secret, never the browser's cookies, credentials, Origin or forwarding headers.
/// `None` when the path or host cannot be written into a request.
pub fn upgrade_request(
    host: &str,
    port: u16,
    path: &str,
    offer: &Offer,
    authorization: &str,
) -> Option<Vec<u8>> {
    if !is_visible(host) || !is_visible(path) || !path.starts_with('/') {
        return None;
    }
    let host = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!(
        "GET {path} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\n\
         Sec-WebSocket-Version: 13\r\n",
        offer.key
    );
    if !offer.protocols.is_empty() {
        head.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            offer.protocols.join(", ")
        ));
    }
    head.push_str(&format!("Authorization: {authorization}\r\n\r\n"));
    Some(head.into_bytes())
}

/// Where the response head ends (the index after its blank line), if it has.
pub fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The container's answer to `offer`, checked: 101, the upgrade to websocket, the accept
/// value computed from the key, a subprotocol only from those offered and no extension
/// (none was offered). Gives the accept value and the chosen subprotocol.
pub fn check_answer(head: &[u8], offer: &Offer) -> Result<(String, Option<String>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete response head".into()),
        Err(error) => return Err(format!("bad response head: {error}")),
    }
    if response.code != Some(101) {
        return Err(format!(
            "answered {} instead of 101",
            response.code.unwrap_or_default()
        ));
    }
    let all = |name: &'static str| {
        response
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).map(str::trim))
    };
    let one = |name: &'static str| -> Result<Option<&str>, String> {
        let mut values = all(name);
        let value = values
            .next()
            .transpose()
            .map_err(|_| format!("bad {name}"))?;
        if values.next().is_some() {
            return Err(format!("more than one {name}"));
        }
        Ok(value)
    };
    if !one("upgrade")?.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err("no Upgrade: websocket".into());
    }
    if !all("connection").any(|v| v.is_ok_and(|v| has_token(v, "upgrade"))) {
        return Err("no Connection: upgrade".into());
    }
    let expected = derive_accept_key(offer.key.as_bytes());
    if one("sec-websocket-accept")? != Some(expected.as_str()) {
        return Err("wrong Sec-WebSocket-Accept".into());
    }
    if one("sec-websocket-extensions")?.is_some_and(|v| !v.is_empty()) {
        return Err("an extension nobody offered".into());
    }
    let protocol = match one("sec-websocket-protocol")? {
        None | Some("") => None,
        Some(chosen) if offer.protocols.iter().any(|p| p == chosen) => Some(chosen.to_owned()),
        Some(_) => return Err("a subprotocol nobody offered".into()),
    };
    Ok((expected, protocol))
}

/// Connects, sends the upgrade and reads the answer: the container's socket, the bytes it
/// sent after its response head, the accept value and the chosen subprotocol.
pub async fn handshake(
    host: &str,
    port: u16,
    request: &[u8],
    offer: &Offer,
) -> Result<(TcpStream, Vec<u8>, String, Option<String>), String> {
    let mut upstream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // Nagle off: input events are small and must not wait for the next packet.
    let _ = upstream.set_nodelay(true);
    upstream
        .write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let read = upstream
            .read_buf(&mut buffer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if let Some(end) = head_end(&buffer) {
            let (accept, protocol) = check_answer(&buffer[..end], offer)?;
            let rest = buffer.split_off(end);
            return Ok((upstream, rest, accept, protocol));
        }
        if read == 0 {
            return Err("closed before answering".into());
        }
        if buffer.len() >= MAX_HEAD {
            return Err("response head too large".into());
        }
        buffer.reserve(4096);
    }
}

/// The owner's WebSocket: handshake with the container first (so a dead desktop is a clean
/// 502), then the 101 to the browser and the byte relay.
pub async fn relay(mut request: Request, target: &Target, path: &str) -> Response {
    let offer = match offer(request.method(), request.version(), request.headers()) {
        Ok(offer) => offer,
        Err((status, message)) => return refuse(status, message),
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket request couldn't be upgraded since no upgrade state was present",
        );
    };
    drop(request);
    let port = target.port.expect("authorized targets have a port");
    let authorization = basic_auth(&target.secret);
    let Some(head) = upgrade_request(&target.host, port, path, &offer, &authorization) else {
        return refuse(StatusCode::BAD_REQUEST, "Bad path.");
    };
    let answered = tokio::time::timeout(HANDSHAKE, handshake(&target.host, port, &head, &offer))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {HANDSHAKE:?}")));
    let (upstream, early, accept, protocol) = match answered {
        Ok(answered) => answered,
        Err(error) => {
            tracing::warn!(%error, "session websocket unreachable");
            return refuse(
                StatusCode::BAD_GATEWAY,
                "The session's desktop is not answering.",
            );
        }
    };
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(protocol) = protocol {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    let relayed = Relayed::start();
    tokio::spawn(async move {
        copy(on_upgrade, early, upstream).await;
        // After the sockets and buffers are gone.
        drop(relayed);
    });
    response
        .body(Body::empty())
        .expect("static headers and checked values")
}

/// The browser's upgraded connection and the container's socket, relayed until both ends
/// close: first what the container sent right after its 101, then bytes both ways. When
/// either side ends, the other's write half is shut down; an error ends both.
async fn copy(on_upgrade: OnUpgrade, early: Vec<u8>, mut upstream: TcpStream) {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "desktop websocket upgrade failed");
            return;
        }
    };
    let mut browser = TokioIo::new(upgraded);
    if !early.is_empty() && browser.write_all(&early).await.is_err() {
        return;
    }
    drop(early);
    match tokio::io::copy_bidirectional_with_sizes(&mut browser, &mut upstream, BUFFER, BUFFER)
        .await
    {
        Ok((up, down)) => tracing::debug!(up, down, "desktop websocket closed"),
        Err(error) => tracing::debug!(%error, "desktop websocket ended"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn browser(extra: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        headers.insert(header::UPGRADE, "websocket".parse().unwrap());
        headers.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
        headers.insert(header::SEC_WEBSOCKET_KEY, KEY.parse().unwrap());
        for (name, value) in extra {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn offered(protocols: &[&str]) -> Offer {
        Offer {
            key: KEY.into(),
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_browsers_upgrade_is_checked() {
        let get = |headers: &HeaderMap| offer(&Method::GET, Version::HTTP_11, headers);
        assert_eq!(get(&browser(&[])).unwrap(), offered(&[]));
        assert_eq!(
            get(&browser(&[
                ("sec-websocket-protocol", "binary, base64"),
                ("sec-websocket-protocol", "x")
            ]))
            .unwrap(),
            offered(&["binary", "base64", "x"])
        );
        assert_eq!(
            offer(&Method::POST, Version::HTTP_11, &browser(&[]))
                .unwrap_err()
                .0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        for (name, bad) in [
            ("sec-websocket-key", "c2hvcnQ="),
            ("sec-websocket-key", "not base64 at all!!!!!!="),
            ("sec-websocket-version", "8"),
            ("upgrade", "h2c"),
            ("connection", "keep-alive"),
            ("sec-websocket-protocol", "a b"),
            ("sec-websocket-protocol", "a\"b"),
        ] {
            let mut headers = browser(&[]);
            headers.insert(name, bad.parse().unwrap());
            assert_eq!(
                get(&headers).unwrap_err().0,
                StatusCode::BAD_REQUEST,
                "{name}: {bad}"
            );
        }
        let mut headers = browser(&[]);
        headers.remove(header::SEC_WEBSOCKET_KEY);
        assert_eq!(get(&headers).unwrap_err().0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_containers_request_carries_only_the_handshake_and_the_secret() {
        let head = upgrade_request(
            "127.0.0.1",
            6901,
            "/websockify?x=1",
            &offered(&["binary"]),
            "Basic Zm9v",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /websockify?x=1 HTTP/1.1\r\n\
             Host: 127.0.0.1:6901\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: binary\r\n\
             Authorization: Basic Zm9v\r\n\r\n"
        );
        let ipv6 = upgrade_request("::1", 1, "/", &offered(&[]), "Basic x").unwrap();
        assert!(String::from_utf8(ipv6)
            .unwrap()
            .contains("Host: [::1]:1\r\n"));
        for path in ["/a b", "/a\r\nX: y", "/é", "", "x"] {
            assert!(
                upgrade_request("h", 1, path, &offered(&[]), "a").is_none(),
                "{path:?}"
            );
        }
        assert!(upgrade_request("h\r\n", 1, "/", &offered(&[]), "a").is_none());
    }

    #[test]
    fn the_response_head_ends_at_its_blank_line() {
        assert_eq!(head_end(b"HTTP/1.1 101 OK\r\n"), None);
        assert_eq!(head_end(b"HTTP/1.1 101 OK\r\n\r\n"), Some(19));
        assert_eq!(
            head_end(b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n\x82\x0cRFB"),
            Some(25)
        );
    }

    #[test]
    fn only_a_proper_101_for_this_key_is_accepted() {
        // RFC 6455's own example: this key's accept value.
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let answer = |extra: &str| {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nServer: WebSockify\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
            )
        };
        assert_eq!(
            check_answer(answer("").as_bytes(), &offered(&[])).unwrap(),
            (accept.to_owned(), None)
        );
        assert_eq!(
            check_answer(
                answer("Sec-WebSocket-Protocol: binary\r\n").as_bytes(),
                &offered(&["base64", "binary"])
            )
            .unwrap(),
            (accept.to_owned(), Some("binary".to_owned()))
        );
        let refused = [
            answer("Sec-WebSocket-Protocol: binary\r\n"),
            answer("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            answer("Sec-WebSocket-Accept: AAAA\r\n"),
            answer("").replace(accept, "x3JJHMbDL1EzLkh9GBhXDw=="),
            answer("").replace("Upgrade: websocket\r\n", ""),
            answer("").replace("Connection: Upgrade", "Connection: close"),
            answer("").replace("101 Switching Protocols", "401 Unauthorized"),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned(),
            "garbage\r\n\r\n".to_owned(),
        ];
        for head in refused {
            assert!(
                check_answer(head.as_bytes(), &offered(&[])).is_err(),
                "{head}"
            );
        }
    }

    /// Against tungstenite's server handshake: the forwarded key's accept matches, and bytes
    /// the server sends right after its 101 are kept for the browser.
    #[tokio::test]
    async fn the_handshake_with_a_websocket_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
            socket
                .send(Message::binary(&b"RFB 003.008\n"[..]))
                .await
                .unwrap();
            socket.next().await.unwrap().unwrap()
        });
        let offer = offered(&[]);
        let request = upgrade_request("127.0.0.1", port, "/websockify", &offer, "Basic x").unwrap();
        let (mut upstream, early, accept, protocol) =
            handshake("127.0.0.1", port, &request, &offer)
                .await
                .unwrap();
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(protocol, None);
        let mut frame = early;
        while frame.len() < 14 {
            upstream.read_buf(&mut frame).await.unwrap();
        }
        assert_eq!(&frame[..], b"\x82\x0cRFB 003.008\n");
        // A masked binary frame "hi", as a browser sends it.
        upstream
            .write_all(&[0x82, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .await
            .unwrap();
        assert_eq!(server.await.unwrap(), Message::binary(&b"hi"[..]));
    }
}
