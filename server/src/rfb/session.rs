//! A connected RFB client that sends input: the tests' and tools' stand-in for a browser at
//! Berth's WebSocket endpoint.
use super::client::{first_update, negotiate, Framebuffer};
use super::error::within;
use super::reader::{connect_websocket, Reader};
use super::RfbError;
use std::time::Duration;

mod cut_text;

/// A connected RFB client that can also send input (for tests and tools).
pub struct Session {
    reader: Reader,
    pub frame: Framebuffer,
    /// Rectangles of the last framebuffer update not read yet (session/cut_text.rs).
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
    ) -> Result<Session, RfbError> {
        let session = async {
            let mut rfb = connect_websocket(url, headers).await?;
            negotiate(&mut rfb, None).await?;
            first_update(rfb).await
        };
        let (reader, frame) = within(timeout, "framebuffer", session).await?;
        Ok(Session {
            reader,
            unread_rects: frame.rectangles,
            frame,
        })
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), RfbError> {
        self.reader.send(bytes).await
    }

    pub async fn key(&mut self, keysym: u32, down: bool) -> Result<(), RfbError> {
        self.send_raw(key_event(keysym, down)).await
    }

    /// Presses `key` while holding `modifiers`.
    pub async fn chord(&mut self, modifiers: &[u32], key: u32) -> Result<(), RfbError> {
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
    pub async fn type_text(&mut self, text: &str) -> Result<(), RfbError> {
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
