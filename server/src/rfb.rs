//! A minimal RFB (VNC) client over a session's websocket: enough to prove a desktop streams
//! (the first framebuffer update) for readiness checks, tests and benchmarks, to send input,
//! and to capture the whole screen (screenshots).
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

/// What the server said about its desktop in ServerInit.
struct ServerInit {
    width: u16,
    height: u16,
    name: String,
}

/// Opens the websocket and performs the RFB 3.8 handshake (security type None, shared) up to
/// and including ServerInit.
async fn connect(url: &str, headers: &[(&str, String)]) -> Result<(Reader, ServerInit), String> {
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
    Ok((
        rfb,
        ServerInit {
            width,
            height,
            name,
        },
    ))
}

async fn handshake(url: &str, headers: &[(&str, String)]) -> Result<(Reader, Framebuffer), String> {
    let (mut rfb, init) = connect(url, headers).await?;
    let ServerInit {
        width,
        height,
        name,
    } = init;
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
            other => skip_message(&mut rfb, other).await?,
        }
    }
}

/// Reads past a server message other than FramebufferUpdate (its type byte already read).
async fn skip_message(rfb: &mut Reader, kind: u8) -> Result<(), String> {
    match kind {
        2 => {} // Bell
        1 => {
            // SetColourMapEntries: skip its entries.
            let header = rfb.take(5).await?;
            let colours = u16::from_be_bytes([header[3], header[4]]) as usize;
            rfb.take(colours * 6).await?;
        }
        3 => {
            // ServerCutText
            let length = u32::from_be_bytes(rfb.take(7).await?[3..7].try_into().unwrap()) as usize;
            rfb.take(length).await?;
        }
        other => return Err(format!("unexpected server message type {other}")),
    }
    Ok(())
}

/// A picture of the whole desktop: `rgb` holds `width` × `height` pixels, row by row, three
/// bytes (red, green, blue) each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub width: u16,
    pub height: u16,
    pub rgb: Vec<u8>,
}

/// The most pixels a capture accepts (a 5K desktop has 14.7 million).
const MAX_CAPTURE_PIXELS: usize = 16 << 20;

/// SetPixelFormat's format for captures: 32 bits per pixel, depth 24, little-endian, true
/// colour, 8 bits each of red (bit 16), green (bit 8) and blue (bit 0).
const CAPTURE_PIXEL_FORMAT: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

/// The screen being filled from Raw rectangles in [`CAPTURE_PIXEL_FORMAT`].
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    /// Pixels received so far (rectangles may overlap: an upper bound of what is covered).
    painted: usize,
}

impl Canvas {
    fn new(width: u16, height: u16) -> Result<Canvas, String> {
        let (width, height) = (usize::from(width), usize::from(height));
        if width == 0 || height == 0 || width * height > MAX_CAPTURE_PIXELS {
            return Err(format!("cannot capture a {width}x{height} desktop"));
        }
        Ok(Canvas {
            width,
            height,
            rgb: vec![0; width * height * 3],
            painted: 0,
        })
    }

    /// Refuses a rectangle that does not lie inside the screen (before its pixels are read).
    fn check(&self, x: u16, y: u16, w: u16, h: u16) -> Result<(), String> {
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if x + w > self.width || y + h > self.height {
            return Err(format!(
                "a {w}x{h} rectangle at {x},{y} lies outside the {}x{} screen",
                self.width, self.height
            ));
        }
        Ok(())
    }

    /// Paints a Raw rectangle: `pixels` holds w × h pixels of 4 bytes (blue, green, red, unused).
    fn paint_raw(&mut self, x: u16, y: u16, w: u16, h: u16, pixels: &[u8]) -> Result<(), String> {
        self.check(x, y, w, h)?;
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if pixels.len() != w * h * 4 {
            return Err(format!(
                "a {w}x{h} Raw rectangle needs {} bytes, not {}",
                w * h * 4,
                pixels.len()
            ));
        }
        if w == 0 {
            return Ok(());
        }
        for (row, source) in pixels.chunks_exact(w * 4).enumerate() {
            let start = ((y + row) * self.width + x) * 3;
            let target = &mut self.rgb[start..start + w * 3];
            for (rgb, bgrx) in target.chunks_exact_mut(3).zip(source.chunks_exact(4)) {
                rgb.copy_from_slice(&[bgrx[2], bgrx[1], bgrx[0]]);
            }
        }
        self.painted += w * h;
        Ok(())
    }

    fn complete(&self) -> bool {
        self.painted >= self.width * self.height
    }
}

/// Connects like [`first_framebuffer`] and captures the whole screen as it is now: 32-bit true
/// colour, Raw encoding only, one non-incremental update request for the full screen (asked
/// again should an update cover less than the screen).
pub async fn capture(
    url: &str,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<Capture, String> {
    tokio::time::timeout(timeout, capture_now(url, headers))
        .await
        .map_err(|_| format!("no screen capture within {}s", timeout.as_secs()))?
}

async fn capture_now(url: &str, headers: &[(&str, String)]) -> Result<Capture, String> {
    let (mut rfb, init) = connect(url, headers).await?;
    let (width, height) = (init.width, init.height);
    let mut canvas = Canvas::new(width, height)?;
    let mut pixel_format = vec![0, 0, 0, 0];
    pixel_format.extend_from_slice(&CAPTURE_PIXEL_FORMAT);
    rfb.send(pixel_format).await?;
    rfb.send(vec![2, 0, 0, 1, 0, 0, 0, 0]).await?; // SetEncodings: Raw only
    while !canvas.complete() {
        let mut request = vec![3, 0, 0, 0, 0, 0]; // non-incremental, from 0,0
        request.extend_from_slice(&width.to_be_bytes());
        request.extend_from_slice(&height.to_be_bytes());
        rfb.send(request).await?;
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
                let encoding = i32::from_be_bytes(rect[8..12].try_into().unwrap());
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

    /// Raw pixels in the capture format (blue, green, red, unused) from RGB triples.
    fn raw(pixels: &[[u8; 3]]) -> Vec<u8> {
        pixels
            .iter()
            .flat_map(|&[r, g, b]| [b, g, r, 0xaa])
            .collect()
    }

    #[test]
    fn raw_rectangles_are_decoded_into_place() {
        let mut canvas = Canvas::new(3, 2).unwrap();
        assert!(!canvas.complete());
        // The left column, then the 2x2 block beside it.
        canvas
            .paint_raw(0, 0, 1, 2, &raw(&[[255, 0, 0], [0, 255, 0]]))
            .unwrap();
        canvas
            .paint_raw(
                1,
                0,
                2,
                2,
                &raw(&[[0, 0, 255], [1, 2, 3], [4, 5, 6], [7, 8, 9]]),
            )
            .unwrap();
        assert!(canvas.complete());
        assert_eq!(
            canvas.rgb,
            vec![
                255, 0, 0, 0, 0, 255, 1, 2, 3, // row 0
                0, 255, 0, 4, 5, 6, 7, 8, 9, // row 1
            ]
        );
    }

    #[test]
    fn bad_rectangles_are_refused() {
        let mut canvas = Canvas::new(4, 4).unwrap();
        assert!(canvas.check(3, 0, 2, 1).is_err(), "past the right edge");
        assert!(canvas.check(0, 4, 1, 1).is_err(), "past the bottom");
        assert!(canvas.check(0, 0, 4, 4).is_ok());
        assert!(
            canvas.paint_raw(0, 0, 2, 2, &[0; 15]).is_err(),
            "short data"
        );
        assert!(canvas.paint_raw(0, 0, 0, 0, &[]).is_ok());
        assert!(!canvas.complete());
        assert!(Canvas::new(0, 10).is_err());
        assert!(Canvas::new(65535, 65535).is_err());
    }

    #[test]
    fn the_capture_pixel_format_is_32_bit_little_endian_true_colour() {
        let [bpp, depth, big_endian, true_colour, ..] = CAPTURE_PIXEL_FORMAT;
        assert_eq!((bpp, depth, big_endian, true_colour), (32, 24, 0, 1));
        assert_eq!(&CAPTURE_PIXEL_FORMAT[10..13], &[16, 8, 0]);
    }
}
