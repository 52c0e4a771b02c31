//! A minimal RFB (VNC) client over a session's websocket: enough to prove a desktop streams
//! (the first framebuffer update) for readiness checks, tests and benchmarks.
use crate::agent::ready::basic_auth;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads RFB bytes from websocket binary messages, however they are split.
struct Reader {
    socket: Socket,
    buffer: Vec<u8>,
}

impl Reader {
    async fn take(&mut self, count: usize) -> Result<Vec<u8>, String> {
        while self.buffer.len() < count {
            match self.socket.next().await {
                Some(Ok(Message::Binary(bytes))) => self.buffer.extend_from_slice(&bytes),
                Some(Ok(Message::Close(_))) | None => return Err("the stream closed".into()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.to_string()),
            }
        }
        Ok(self.buffer.drain(..count).collect())
    }

    async fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|e| e.to_string())
    }
}

/// What the first framebuffer update showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framebuffer {
    pub width: u16,
    pub height: u16,
    pub name: String,
    pub rectangles: u16,
}

/// Opens `url` (ws://host:port/websockify or a proxied path) with the given headers, performs
/// the RFB 3.8 handshake with security type None, and waits for the first framebuffer update.
pub async fn first_framebuffer(
    url: &str,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<Framebuffer, String> {
    Session::open(url, headers, timeout)
        .await
        .map(|session| session.frame)
}

/// A connected RFB client that can also send input (for tests and tools).
pub struct Session {
    reader: Reader,
    pub frame: Framebuffer,
}

/// X keysyms used by `type_text` and key chords.
pub const KEY_RETURN: u32 = 0xff0d;
pub const KEY_CONTROL: u32 = 0xffe3;
pub const KEY_ALT: u32 = 0xffe9;

impl Session {
    /// Connects, shakes hands and waits for the first framebuffer update.
    pub async fn open(
        url: &str,
        headers: &[(&str, String)],
        timeout: Duration,
    ) -> Result<Session, String> {
        tokio::time::timeout(timeout, handshake(url, headers))
            .await
            .map_err(|_| format!("no framebuffer within {}s", timeout.as_secs()))?
            .map(|(reader, frame)| Session { reader, frame })
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.reader.send(bytes).await
    }

    pub async fn key(&mut self, keysym: u32, down: bool) -> Result<(), String> {
        let mut message = vec![4, down as u8, 0, 0];
        message.extend_from_slice(&keysym.to_be_bytes());
        self.send_raw(message).await
    }

    /// Presses `key` while holding `modifiers`.
    pub async fn chord(&mut self, modifiers: &[u32], key: u32) -> Result<(), String> {
        for &modifier in modifiers {
            self.key(modifier, true).await?;
        }
        self.key(key, true).await?;
        self.key(key, false).await?;
        for &modifier in modifiers.iter().rev() {
            self.key(modifier, false).await?;
        }
        Ok(())
    }

    /// Types ASCII text; a newline presses Return.
    pub async fn type_text(&mut self, text: &str) -> Result<(), String> {
        for c in text.chars() {
            let keysym = if c == '\n' { KEY_RETURN } else { c as u32 };
            self.key(keysym, true).await?;
            self.key(keysym, false).await?;
        }
        Ok(())
    }

    /// Whether the server side closes the connection within `wait` (reading and discarding
    /// whatever else arrives).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.reader.socket.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// The Authorization header of a session container's endpoint.
pub fn session_auth(secret: &str) -> (&'static str, String) {
    ("authorization", basic_auth(secret))
}

async fn handshake(url: &str, headers: &[(&str, String)]) -> Result<(Reader, Framebuffer), String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    for (name, value) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName =
            name.parse().map_err(|_| format!("bad header {name}"))?;
        request.headers_mut().insert(
            name,
            value.parse().map_err(|_| "bad header value".to_owned())?,
        );
    }
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| e.to_string())?;
    let mut rfb = Reader {
        socket,
        buffer: Vec::new(),
    };

    let version = rfb.take(12).await?;
    if !version.starts_with(b"RFB ") {
        return Err(format!(
            "not an RFB server: {:?}",
            String::from_utf8_lossy(&version)
        ));
    }
    rfb.send(b"RFB 003.008\n".to_vec()).await?;
    let count = rfb.take(1).await?[0] as usize;
    if count == 0 {
        let length = u32::from_be_bytes(rfb.take(4).await?.try_into().unwrap()) as usize;
        let reason = rfb.take(length).await?;
        return Err(format!(
            "the server refused: {}",
            String::from_utf8_lossy(&reason)
        ));
    }
    let types = rfb.take(count).await?;
    if !types.contains(&1) {
        return Err(format!(
            "security type None not offered (offered {types:?})"
        ));
    }
    rfb.send(vec![1]).await?;
    let result = u32::from_be_bytes(rfb.take(4).await?.try_into().unwrap());
    if result != 0 {
        return Err("security handshake failed".into());
    }
    rfb.send(vec![1]).await?; // ClientInit: shared
    let init = rfb.take(24).await?;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name_length = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
    let name = String::from_utf8_lossy(&rfb.take(name_length).await?).into_owned();
    // SetEncodings: Raw only, so updates are plain pixels.
    rfb.send(vec![2, 0, 0, 1, 0, 0, 0, 0]).await?;
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    rfb.send(request).await?;
    loop {
        let kind = rfb.take(1).await?[0];
        match kind {
            0 => {
                let header = rfb.take(3).await?;
                let rectangles = u16::from_be_bytes([header[1], header[2]]);
                return Ok((
                    rfb,
                    Framebuffer {
                        width,
                        height,
                        name,
                        rectangles,
                    },
                ));
            }
            2 => continue, // Bell
            1 => {
                // SetColourMapEntries: skip its entries.
                let header = rfb.take(5).await?;
                let colours = u16::from_be_bytes([header[3], header[4]]) as usize;
                rfb.take(colours * 6).await?;
            }
            3 => {
                let length =
                    u32::from_be_bytes(rfb.take(7).await?[3..7].try_into().unwrap()) as usize;
                rfb.take(length).await?;
            }
            other => return Err(format!("unexpected server message type {other}")),
        }
    }
}
