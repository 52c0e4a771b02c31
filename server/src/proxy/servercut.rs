//! Clipboard-down enforcement: when a session's owner may not copy out of it
//! (`allow_kasm_clipboard_down` off), the relay reads the server-to-client RFB stream (from
//! ServerInit on) and drops every ServerCutText, passing everything else on as it comes
//! (payloads are streamed, never buffered whole).
//!
//! To know where each message ends, the filter must understand every encoding the server may
//! use: the browser's SetEncodings is cut down ([`keep_encoding`]) to those it can measure
//! (Raw, CopyRect, ZRLE and pseudo-encodings without pixel data), and the bytes per pixel
//! follow ServerInit and the browser's SetPixelFormat (shared with the inbound filter through
//! [`PixelSize`]). Anything it cannot measure ends the stream: it fails closed.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes per pixel of the stream's current pixel format.
pub type PixelSize = Arc<AtomicUsize>;

/// Whether an encoding the browser offers is kept: those whose data the filter can measure.
pub fn keep_encoding(encoding: i32) -> bool {
    matches!(
        encoding,
        0 | 1 | 16 // Raw, CopyRect, ZRLE
        | -223 | -224 // DesktopSize, LastRect
        | -258 // QEMU extended key events
        | -307 | -308 // DesktopName, ExtendedDesktopSize
        | -312 | -313 // Fence, ContinuousUpdates
        | -256..=-247 // compression level
        | -32..=-23 // quality level
    )
}

/// Why the stream must end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("unknown RFB server message type {0}")]
    Message(u8),
    #[error("unknown RFB encoding {0}")]
    Encoding(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// ServerInit, whose length is known once its name length is.
    Init,
    /// The next server message.
    Message,
    /// The next rectangle header of a FramebufferUpdate, `left` of them to come.
    Rect { left: u16 },
}

pub struct ServerCutFilter {
    stage: Stage,
    /// The header being read (small: at most 20 bytes).
    header: Vec<u8>,
    /// Payload bytes still to stream, and whether they pass.
    skip: usize,
    forward: bool,
    /// Rectangles left in the update once the payload streamed.
    after: Stage,
    pixel: PixelSize,
}

/// What a complete header decides.
struct Decision {
    forward: bool,
    payload: usize,
    next: Stage,
}

impl ServerCutFilter {
    /// A filter at the start of the server's stream (ServerInit next).
    pub fn new(pixel: PixelSize) -> Self {
        ServerCutFilter {
            stage: Stage::Init,
            header: Vec::new(),
            skip: 0,
            forward: true,
            after: Stage::Message,
            pixel,
        }
    }

    /// Feeds the server's bytes; returns those to send to the browser.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Vec<u8>, Unreadable> {
        let mut out = Vec::with_capacity(data.len());
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                if self.forward {
                    out.extend_from_slice(&data[..n]);
                }
                self.skip -= n;
                data = &data[n..];
                if self.skip == 0 {
                    self.stage = self.after;
                }
                continue;
            }
            self.header.push(data[0]);
            data = &data[1..];
            if let Some(decision) = self.decide()? {
                if decision.forward {
                    out.extend_from_slice(&self.header);
                }
                self.header.clear();
                self.forward = decision.forward;
                self.skip = decision.payload;
                self.after = decision.next;
                if self.skip == 0 {
                    self.stage = decision.next;
                }
            }
        }
        Ok(out)
    }

    /// The decision on the header read so far, once it is complete.
    fn decide(&mut self) -> Result<Option<Decision>, Unreadable> {
        let h = &self.header;
        let pass = |payload: usize, next: Stage| {
            Some(Decision {
                forward: true,
                payload,
                next,
            })
        };
        Ok(match self.stage {
            Stage::Init => {
                if h.len() < 24 {
                    return Ok(None);
                }
                self.pixel
                    .store((h[4] as usize / 8).max(1), Ordering::SeqCst);
                pass(u32_at(h, 20) as usize, Stage::Message)
            }
            Stage::Message => match h[0] {
                0 if h.len() == 4 => match u16_at(h, 2) {
                    0 => pass(0, Stage::Message),
                    left => pass(0, Stage::Rect { left }),
                },
                1 if h.len() == 6 => pass(6 * u16_at(h, 4) as usize, Stage::Message),
                2 | 150 => pass(0, Stage::Message),
                3 if h.len() == 8 => Some(Decision {
                    forward: false,
                    payload: (u32_at(h, 4) as i32).unsigned_abs() as usize,
                    next: Stage::Message,
                }),
                248 if h.len() == 9 => pass(h[8] as usize, Stage::Message),
                250 if h.len() == 4 => pass(0, Stage::Message),
                0 | 1 | 3 | 248 | 250 => None,
                other => return Err(Unreadable::Message(other)),
            },
            Stage::Rect { left } => {
                if h.len() < 12 {
                    return Ok(None);
                }
                let next = match left - 1 {
                    0 => Stage::Message,
                    left => Stage::Rect { left },
                };
                let (width, height) = (u16_at(h, 4) as usize, u16_at(h, 6) as usize);
                let encoding = u32_at(h, 8) as i32;
                let bpp = self.pixel.load(Ordering::SeqCst);
                match encoding {
                    0 => pass(width * height * bpp, next),
                    1 => pass(4, next),
                    -224 => pass(0, Stage::Message), // LastRect ends the update
                    -223 | -258 | -312 | -313 => pass(0, next),
                    16 | -307 | -308 if h.len() < 16 => None,
                    16 | -307 => pass(u32_at(h, 12) as usize, next),
                    -308 => pass(16 * h[12] as usize, next),
                    other => return Err(Unreadable::Encoding(other)),
                }
            }
        })
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
#[path = "servercut_tests.rs"]
mod tests;
