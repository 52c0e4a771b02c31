//! View-only enforcement: reads the client-to-server RFB stream of a viewer's connection and
//! passes on only what cannot change the desktop. Keys, pointer, clipboard, resizes and power
//! requests are dropped; a message type it does not know ends the connection. The browser
//! cannot get around this: it runs in the proxy, not in the client.

/// What the filter decided about a message type it could not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("unknown RFB client message type {0}")]
    UnknownMessage(u8),
    #[error("unsupported security type {0} (only None is proxied)")]
    Security(u8),
    #[error("a client message was too large")]
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// "RFB 003.008\n"
    Version,
    /// One byte: the chosen security type.
    Security,
    /// One byte: ClientInit's shared flag.
    Init,
    /// Client messages.
    Messages,
}

/// The biggest client message accepted (clipboard text, fences, encodings lists).
const MAX_MESSAGE: usize = 1 << 20;

pub struct ViewOnlyFilter {
    stage: Stage,
    buffer: Vec<u8>,
}

impl Default for ViewOnlyFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl ViewOnlyFilter {
    pub fn new() -> Self {
        ViewOnlyFilter {
            stage: Stage::Version,
            buffer: Vec::new(),
        }
    }

    /// Feeds bytes from the viewer; returns the bytes to forward to the desktop (possibly
    /// none), or why the connection must end.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<u8>, Refused> {
        self.buffer.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let needed = match self.stage {
                Stage::Version => 12,
                Stage::Security | Stage::Init => 1,
                Stage::Messages => match message_length(&self.buffer)? {
                    Some(length) => length,
                    None => return Ok(out),
                },
            };
            if needed > MAX_MESSAGE {
                return Err(Refused::TooLarge);
            }
            if self.buffer.len() < needed {
                return Ok(out);
            }
            let message: Vec<u8> = self.buffer.drain(..needed).collect();
            match self.stage {
                Stage::Version => {
                    self.stage = Stage::Security;
                    out.extend_from_slice(&message);
                }
                Stage::Security => {
                    if message[0] != 1 {
                        return Err(Refused::Security(message[0]));
                    }
                    self.stage = Stage::Init;
                    out.extend_from_slice(&message);
                }
                Stage::Init => {
                    // A viewer never asks for exclusive access: force "shared".
                    self.stage = Stage::Messages;
                    out.push(1);
                }
                Stage::Messages => {
                    if allowed(message[0]) {
                        out.extend_from_slice(&message);
                    }
                }
            }
        }
    }
}

/// Messages that only ask for pixels or negotiate how they are sent.
fn allowed(kind: u8) -> bool {
    matches!(kind, 0 | 2 | 3 | 150 | 248)
}

fn u16_at(buffer: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*buffer.get(at)?, *buffer.get(at + 1)?]) as usize)
}

/// A signed 32-bit length whose sign is a flag (the extended clipboard marks its messages
/// with a negative length): the magnitude is the byte count.
fn length_at(buffer: &[u8], at: usize) -> Option<usize> {
    Some(i32::from_be_bytes(buffer.get(at..at + 4)?.try_into().ok()?).unsigned_abs() as usize)
}

/// The full length of the client message at the start of `buffer`, once enough of it is
/// there to tell (`None`: wait for more bytes).
fn message_length(buffer: &[u8]) -> Result<Option<usize>, Refused> {
    let Some(&kind) = buffer.first() else {
        return Ok(None);
    };
    Ok(match kind {
        0 => Some(20),                                      // SetPixelFormat
        2 => u16_at(buffer, 2).map(|n| 4 + 4 * n),          // SetEncodings
        3 => Some(10),                                      // FramebufferUpdateRequest
        4 => Some(8),                                       // KeyEvent
        5 => Some(6),                                       // PointerEvent
        6 => length_at(buffer, 4).map(|n| 8 + n),           // ClientCutText
        150 => Some(10),                                    // EnableContinuousUpdates
        248 => buffer.get(8).map(|&n| 9 + n as usize),      // ClientFence
        250 => Some(4),                                     // xvp (power operations)
        251 => buffer.get(6).map(|&n| 8 + 16 * n as usize), // SetDesktopSize
        255 => Some(12),                                    // QEMU extended key event
        other => return Err(Refused::UnknownMessage(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Vec<u8> {
        let mut bytes = b"RFB 003.008\n".to_vec();
        bytes.push(1); // security None
        bytes.push(0); // ClientInit, exclusive
        bytes
    }

    fn key_event(down: bool, keysym: u32) -> Vec<u8> {
        let mut bytes = vec![4, down as u8, 0, 0];
        bytes.extend_from_slice(&keysym.to_be_bytes());
        bytes
    }

    fn update_request() -> Vec<u8> {
        vec![3, 0, 0, 0, 0, 0, 4, 0, 3, 0]
    }

    #[test]
    fn the_handshake_passes_and_init_is_forced_shared() {
        let mut filter = ViewOnlyFilter::new();
        let out = filter.feed(&handshake()).unwrap();
        assert_eq!(&out[..12], b"RFB 003.008\n");
        assert_eq!(&out[12..], &[1, 1]);
    }

    #[test]
    fn keys_pointer_clipboard_and_resizes_are_dropped() {
        let mut filter = ViewOnlyFilter::new();
        filter.feed(&handshake()).unwrap();
        let mut stream = Vec::new();
        stream.extend(key_event(true, 0x61));
        stream.extend([5, 1, 0, 10, 0, 20]); // pointer click
        stream.extend([6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']); // clipboard "abc"
        stream.extend([251, 0, 4, 0, 3, 0, 1, 0]); // SetDesktopSize header, one screen
        stream.extend([0u8; 16]);
        stream.extend([255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30]); // QEMU key
        stream.extend([250, 0, 1, 2]); // xvp shutdown
        stream.extend(update_request());
        assert_eq!(filter.feed(&stream).unwrap(), update_request());
    }

    #[test]
    fn messages_split_across_websocket_frames_are_reassembled() {
        let mut filter = ViewOnlyFilter::new();
        filter.feed(&handshake()).unwrap();
        let mut stream = key_event(true, 0x62);
        stream.extend(update_request());
        let mut forwarded = Vec::new();
        for byte in stream {
            forwarded.extend(filter.feed(&[byte]).unwrap());
        }
        assert_eq!(forwarded, update_request());
    }

    #[test]
    fn pixel_format_encodings_and_fences_pass() {
        let mut filter = ViewOnlyFilter::new();
        filter.feed(&handshake()).unwrap();
        let mut stream = vec![0u8; 20]; // SetPixelFormat
        stream.extend([2, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0]); // SetEncodings, two
        stream.extend([248, 0, 0, 0, 0, 0, 0, 0, 2, 7, 7]); // ClientFence with 2 bytes
        stream.extend([150, 1, 0, 0, 0, 0, 4, 0, 3, 0]); // EnableContinuousUpdates
        assert_eq!(filter.feed(&stream).unwrap(), stream);
    }

    #[test]
    fn unknown_messages_and_other_security_types_end_the_connection() {
        let mut filter = ViewOnlyFilter::new();
        filter.feed(&handshake()).unwrap();
        assert_eq!(
            filter.feed(&[99, 0, 0]).unwrap_err(),
            Refused::UnknownMessage(99)
        );

        let mut filter = ViewOnlyFilter::new();
        let mut bytes = b"RFB 003.008\n".to_vec();
        bytes.push(2); // VNC authentication
        assert_eq!(filter.feed(&bytes).unwrap_err(), Refused::Security(2));
    }

    #[test]
    fn extended_clipboard_messages_with_negative_lengths_are_dropped_whole() {
        let mut filter = ViewOnlyFilter::new();
        filter.feed(&handshake()).unwrap();
        // Extended clipboard "caps": length -8 means 8 bytes follow.
        let mut stream = vec![6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8];
        stream.extend([1, 0, 0, 0x1f, 0, 0, 0, 0]);
        stream.extend(update_request());
        assert_eq!(filter.feed(&stream).unwrap(), update_request());
    }

    #[test]
    fn huge_clipboard_claims_are_refused() {
        let mut filter = ViewOnlyFilter::new();
        filter.feed(&handshake()).unwrap();
        assert_eq!(
            filter
                .feed(&[6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff])
                .unwrap_err(),
            Refused::TooLarge
        );
    }
}
