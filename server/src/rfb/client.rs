//! A minimal RFB (VNC) client: enough to prove a desktop streams (ServerInit, the first
//! framebuffer update) for the agent's readiness probe, tests and benchmarks, to send input,
//! and to capture the whole screen (screenshots). It speaks RFB 3.8 over a session
//! container's TCP port (VNC authentication with the session's secret) or over Berth's
//! WebSocket endpoint (security type None: the browser's cookie was the credential).
use super::auth;
use super::capture::{Canvas, Capture, CAPTURE_PIXEL_FORMAT};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

mod cut_text;

/// Any connected byte stream: a TCP connection to a container, or a tunnel through its agent.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

enum Transport {
    WebSocket(Box<Socket>),
    Bytes(Box<dyn ByteStream>),
}

/// How an error from a server that refused the credentials begins.
pub const REFUSED_CREDENTIALS: &str = "the server refused the credentials";

/// The longest server field read whole (desktop names, failure reasons).
const MAX_FIELD: usize = 64 * 1024;
/// Clipboard text from the server is skipped, up to this much.
const MAX_CUT_TEXT: usize = 16 << 20;

/// Reads RFB bytes however the transport splits them.
struct Reader {
    transport: Transport,
    buffer: Vec<u8>,
}

impl Reader {
    /// At least one more chunk into the buffer.
    async fn fill(&mut self) -> Result<(), String> {
        match &mut self.transport {
            Transport::WebSocket(socket) => loop {
                match socket.next().await {
                    Some(Ok(Message::Binary(bytes))) => {
                        self.buffer.extend_from_slice(&bytes);
                        return Ok(());
                    }
                    Some(Ok(Message::Close(_))) | None => return Err("the stream closed".into()),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.to_string()),
                }
            },
            Transport::Bytes(stream) => {
                let mut chunk = [0u8; 16 * 1024];
                match stream.read(&mut chunk).await {
                    Ok(0) => Err("the stream closed".into()),
                    Ok(read) => {
                        self.buffer.extend_from_slice(&chunk[..read]);
                        Ok(())
                    }
                    Err(error) => Err(error.to_string()),
                }
            }
        }
    }

    async fn take(&mut self, count: usize) -> Result<Vec<u8>, String> {
        while self.buffer.len() < count {
            self.fill().await?;
        }
        Ok(self.buffer.drain(..count).collect())
    }

    async fn take_u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4).await?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A length-prefixed text field (at most [`MAX_FIELD`] bytes).
    async fn take_text(&mut self) -> Result<String, String> {
        let length = self.take_u32().await? as usize;
        if length > MAX_FIELD {
            return Err(format!("the server sent a {length}-byte text field"));
        }
        Ok(String::from_utf8_lossy(&self.take(length).await?).into_owned())
    }

    /// Reads past `count` bytes without keeping them.
    async fn skip(&mut self, mut count: usize) -> Result<(), String> {
        loop {
            let here = count.min(self.buffer.len());
            self.buffer.drain(..here);
            count -= here;
            if count == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        match &mut self.transport {
            Transport::WebSocket(socket) => socket
                .send(Message::Binary(bytes.into()))
                .await
                .map_err(|e| e.to_string()),
            Transport::Bytes(stream) => {
                stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
                stream.flush().await.map_err(|e| e.to_string())
            }
        }
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

/// What the server said about its desktop in ServerInit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    pub width: u16,
    pub height: u16,
    pub name: String,
}

/// A stream on which the server has accepted the client: what comes next is ClientInit.
pub struct Authenticated {
    pub stream: Box<dyn ByteStream>,
    /// Bytes the server sent past the security result (none from a conforming server).
    pub pending: Vec<u8>,
}

/// Version and security on a container's stream: VNC authentication with `password`. The
/// proxy then introduces the browser.
pub async fn authenticate(
    stream: Box<dyn ByteStream>,
    password: &str,
) -> Result<Authenticated, String> {
    let mut rfb = Reader {
        transport: Transport::Bytes(stream),
        buffer: Vec::new(),
    };
    negotiate(&mut rfb, Some(password)).await?;
    match rfb.transport {
        Transport::Bytes(stream) => Ok(Authenticated {
            stream,
            pending: rfb.buffer,
        }),
        Transport::WebSocket(_) => unreachable!("built from a byte stream above"),
    }
}

/// Authenticates with `password`, sends ClientInit (shared) and reads ServerInit: the desktop
/// is there (the agent's readiness probe).
pub async fn server_init(
    stream: Box<dyn ByteStream>,
    password: &str,
) -> Result<ServerInit, String> {
    let mut rfb = Reader {
        transport: Transport::Bytes(stream),
        buffer: Vec::new(),
    };
    negotiate(&mut rfb, Some(password)).await?;
    init(&mut rfb).await
}

/// Opens `url` (Berth's `/desktop/<kasm_id>/websockify`) with the given headers, shakes hands
/// (security type None) and waits for the first framebuffer update.
pub async fn first_framebuffer(
    url: &str,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<Framebuffer, String> {
    Session::open(url, headers, timeout)
        .await
        .map(|session| session.frame)
}

/// The first framebuffer update straight from a VNC server's TCP port, authenticating with
/// `password` (a session's secret), or security None without one (tests and benchmarks).
pub async fn first_framebuffer_at(
    host: &str,
    port: u16,
    password: Option<&str>,
    timeout: Duration,
) -> Result<Framebuffer, String> {
    let session = async {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut rfb = Reader {
            transport: Transport::Bytes(Box::new(stream)),
            buffer: Vec::new(),
        };
        negotiate(&mut rfb, password).await?;
        first_update(rfb).await
    };
    tokio::time::timeout(timeout, session)
        .await
        .map_err(|_| format!("no framebuffer within {}s", timeout.as_secs()))?
        .map(|(_, frame)| frame)
}

/// A connected RFB client that can also send input (for tests and tools).
pub struct Session {
    reader: Reader,
    pub frame: Framebuffer,
    /// Rectangles of the last framebuffer update not read yet (client/cut_text.rs).
    unread_rects: u16,
}

/// X keysyms used by `type_text` and key chords.
pub const KEY_RETURN: u32 = 0xff0d;
pub const KEY_CONTROL: u32 = 0xffe3;
pub const KEY_ALT: u32 = 0xffe9;

impl Session {
    /// Connects to a WebSocket endpoint, shakes hands and waits for the first framebuffer
    /// update.
    pub async fn open(
        url: &str,
        headers: &[(&str, String)],
        timeout: Duration,
    ) -> Result<Session, String> {
        let session = async {
            let mut rfb = connect_websocket(url, headers).await?;
            negotiate(&mut rfb, None).await?;
            first_update(rfb).await
        };
        tokio::time::timeout(timeout, session)
            .await
            .map_err(|_| format!("no framebuffer within {}s", timeout.as_secs()))?
            .map(|(reader, frame)| Session {
                reader,
                unread_rects: frame.rectangles,
                frame,
            })
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        self.reader.send(bytes).await
    }

    pub async fn key(&mut self, keysym: u32, down: bool) -> Result<(), String> {
        self.send_raw(key_event(keysym, down)).await
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
            match tokio::time::timeout_at(deadline, self.reader.fill()).await {
                Err(_) => return false,
                Ok(Err(_)) => return true,
                Ok(Ok(())) => self.reader.buffer.clear(),
            }
        }
    }
}

/// A KeyEvent message.
pub fn key_event(keysym: u32, down: bool) -> Vec<u8> {
    let mut message = vec![4, down as u8, 0, 0];
    message.extend_from_slice(&keysym.to_be_bytes());
    message
}

async fn connect_websocket(url: &str, headers: &[(&str, String)]) -> Result<Reader, String> {
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
    // Nagle off, as browsers have it: RFB's small client messages (SetEncodings, then
    // FramebufferUpdateRequest) would otherwise wait out the server's delayed ACK (40 ms).
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Reader {
        transport: Transport::WebSocket(Box::new(socket)),
        buffer: Vec::new(),
    })
}

/// RFB security types.
const NONE: u8 = 1;
const VNC_AUTH: u8 = 2;

/// The RFB 3.8 version and security handshake: VNC authentication with `password`, or None
/// when there is no password.
async fn negotiate(rfb: &mut Reader, password: Option<&str>) -> Result<(), String> {
    let version = rfb.take(12).await?;
    if !version.starts_with(b"RFB 003.") {
        return Err(format!(
            "not an RFB server: {:?}",
            String::from_utf8_lossy(&version)
        ));
    }
    rfb.send(b"RFB 003.008\n".to_vec()).await?;
    let count = rfb.take(1).await?[0] as usize;
    if count == 0 {
        return Err(format!("the server refused: {}", rfb.take_text().await?));
    }
    let types = rfb.take(count).await?;
    match password {
        // A session container: VNC authentication, nothing weaker.
        Some(password) if types.contains(&VNC_AUTH) => {
            rfb.send(vec![VNC_AUTH]).await?;
            let challenge: [u8; auth::CHALLENGE] = rfb
                .take(auth::CHALLENGE)
                .await?
                .try_into()
                .expect("took the challenge's length");
            rfb.send(auth::response(password, &challenge).to_vec())
                .await?;
        }
        // Berth's endpoint: the cookie was the credential.
        None if types.contains(&NONE) => rfb.send(vec![NONE]).await?,
        _ => {
            let wanted = if password.is_some() {
                "VNC authentication"
            } else {
                "None"
            };
            return Err(format!(
                "the server does not offer {wanted} (it offered {types:?})"
            ));
        }
    }
    if rfb.take_u32().await? != 0 {
        let reason = rfb.take_text().await.unwrap_or_default();
        return Err(format!("{REFUSED_CREDENTIALS}: {reason}"));
    }
    Ok(())
}

/// ClientInit (shared) and ServerInit.
async fn init(rfb: &mut Reader) -> Result<ServerInit, String> {
    rfb.send(vec![1]).await?;
    let init = rfb.take(20).await?;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name = rfb.take_text().await?;
    Ok(ServerInit {
        width,
        height,
        name,
    })
}

/// From an accepted stream: ServerInit, then the first (full-screen) framebuffer update.
async fn first_update(mut rfb: Reader) -> Result<(Reader, Framebuffer), String> {
    let ServerInit {
        width,
        height,
        name,
    } = init(&mut rfb).await?;
    // SetEncodings: Raw only, so updates are plain pixels.
    rfb.send(vec![2, 0, 0, 1, 0, 0, 0, 0]).await?;
    rfb.send(update_request(width, height)).await?;
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
            other => skip_message(&mut rfb, other).await?,
        }
    }
}

/// A non-incremental FramebufferUpdateRequest for the whole screen.
fn update_request(width: u16, height: u16) -> Vec<u8> {
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    request
}

/// Reads past a server message other than FramebufferUpdate (its type byte already read).
async fn skip_message(rfb: &mut Reader, kind: u8) -> Result<(), String> {
    match kind {
        2 => {} // Bell
        1 => {
            // SetColourMapEntries: skip its entries.
            let header = rfb.take(5).await?;
            let colours = u16::from_be_bytes([header[3], header[4]]) as usize;
            rfb.skip(colours * 6).await?;
        }
        3 => {
            // ServerCutText (a negative length marks the extended clipboard's messages).
            rfb.take(3).await?;
            let length = (rfb.take_u32().await? as i32).unsigned_abs() as usize;
            if length > MAX_CUT_TEXT {
                return Err(format!("the server sent {length} bytes of clipboard"));
            }
            rfb.skip(length).await?;
        }
        other => return Err(format!("unexpected server message type {other}")),
    }
    Ok(())
}

/// Captures the whole screen as it is now, over an authenticated stream to the container:
/// 32-bit true colour, Raw encoding only, one non-incremental update request for the full
/// screen (asked again should an update cover less than the screen).
pub async fn capture(
    stream: Box<dyn ByteStream>,
    password: &str,
    timeout: Duration,
) -> Result<Capture, String> {
    tokio::time::timeout(timeout, capture_now(stream, password))
        .await
        .map_err(|_| format!("no screen capture within {}s", timeout.as_secs()))?
}

async fn capture_now(stream: Box<dyn ByteStream>, password: &str) -> Result<Capture, String> {
    let mut rfb = Reader {
        transport: Transport::Bytes(stream),
        buffer: Vec::new(),
    };
    negotiate(&mut rfb, Some(password)).await?;
    let ServerInit { width, height, .. } = init(&mut rfb).await?;
    let mut canvas = Canvas::new(width, height)?;
    let mut pixel_format = vec![0, 0, 0, 0];
    pixel_format.extend_from_slice(&CAPTURE_PIXEL_FORMAT);
    rfb.send(pixel_format).await?;
    rfb.send(vec![2, 0, 0, 1, 0, 0, 0, 0]).await?; // SetEncodings: Raw only
    while !canvas.complete() {
        rfb.send(update_request(width, height)).await?;
        loop {
            let kind = rfb.take(1).await?[0];
            if kind != 0 {
                skip_message(&mut rfb, kind).await?;
                continue;
            }
            let header = rfb.take(3).await?;
            let rectangles = u16::from_be_bytes([header[1], header[2]]);
            for _ in 0..rectangles {
                let rect = rfb.take(12).await?;
                let field = |i: usize| u16::from_be_bytes([rect[i], rect[i + 1]]);
                let (x, y, w, h) = (field(0), field(2), field(4), field(6));
                let encoding = i32::from_be_bytes([rect[8], rect[9], rect[10], rect[11]]);
                if encoding != 0 {
                    return Err(format!("the server sent encoding {encoding}, not Raw"));
                }
                canvas.check(x, y, w, h)?;
                let pixels = rfb.take(usize::from(w) * usize::from(h) * 4).await?;
                canvas.paint_raw(x, y, w, h, &pixels)?;
            }
            break;
        }
    }
    Ok(Capture {
        width,
        height,
        rgb: canvas.rgb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    /// A scripted server on one end of an in-memory pipe: what it sends, then what it expects.
    async fn serve(mut server: tokio::io::DuplexStream, password_ok: bool) -> Vec<u8> {
        server.write_all(b"RFB 003.008\n").await.unwrap();
        let mut version = [0u8; 12];
        server.read_exact(&mut version).await.unwrap();
        server.write_all(&[1, 2]).await.unwrap(); // one type: VNC authentication
        let mut chosen = [0u8; 1];
        server.read_exact(&mut chosen).await.unwrap();
        server.write_all(b"0123456789abcdef").await.unwrap();
        let mut answer = [0u8; 16];
        server.read_exact(&mut answer).await.unwrap();
        if password_ok && answer == auth::response("Berth-42", b"0123456789abcdef") {
            server.write_all(&[0, 0, 0, 0]).await.unwrap();
        } else {
            server.write_all(&[0, 0, 0, 1, 0, 0, 0, 3]).await.unwrap();
            server.write_all(b"bad").await.unwrap();
        }
        answer.to_vec()
    }

    #[tokio::test]
    async fn vnc_authentication_answers_the_challenge_with_the_password() {
        let (client, server) = duplex(1024);
        let server = tokio::spawn(serve(server, true));
        let accepted = authenticate(Box::new(client), "Berth-42-rest-ignored").await;
        assert!(accepted.is_ok(), "{:?}", accepted.err());
        assert!(accepted.unwrap().pending.is_empty());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_refusal_names_the_servers_reason() {
        let (client, server) = duplex(1024);
        let server = tokio::spawn(serve(server, false));
        let refused = authenticate(Box::new(client), "wrong-pw").await;
        assert_eq!(
            refused.err().unwrap(),
            "the server refused the credentials: bad"
        );
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_container_offering_no_authentication_is_refused() {
        let (client, mut server) = duplex(1024);
        tokio::spawn(async move {
            server.write_all(b"RFB 003.008\n").await.unwrap();
            let mut version = [0u8; 12];
            server.read_exact(&mut version).await.unwrap();
            server.write_all(&[1, NONE]).await.unwrap();
            std::future::pending::<()>().await;
        });
        let refused = authenticate(Box::new(client), "Berth-42").await;
        assert!(refused
            .err()
            .unwrap()
            .contains("does not offer VNC authentication"));
    }

    #[tokio::test]
    async fn hostile_length_fields_are_refused_without_reading_them() {
        let (client, mut server) = duplex(1024);
        tokio::spawn(async move {
            server.write_all(b"RFB 003.008\n").await.unwrap();
            let mut version = [0u8; 12];
            server.read_exact(&mut version).await.unwrap();
            // No security types, and a 4 GB "reason".
            server
                .write_all(&[0, 0xff, 0xff, 0xff, 0xff])
                .await
                .unwrap();
            std::future::pending::<()>().await;
        });
        let refused = authenticate(Box::new(client), "Berth-42").await;
        assert!(refused.err().unwrap().contains("text field"));
    }
}
