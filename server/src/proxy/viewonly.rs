//! View-only and clipboard enforcement: reads the client-to-server RFB stream (from
//! ClientInit on: Berth did the version and security handshake itself). For a viewer it passes
//! on only what cannot change the desktop, unless the viewer holds control: keys, pointer,
//! clipboard, resizes and power requests are dropped. For anyone whose session's owner may not
//! paste into it (`allow_kasm_clipboard_up` off), ClientCutText is dropped, the owner's too. A
//! message type it does not know ends the connection. What it forwards is always whole messages, reassembled from however the
//! browser split them, and whether the viewer holds control is decided when a message is
//! complete: a hand-over in the middle of a message can never leave the VNC server inside a
//! message that the filter thinks has ended. The browser cannot get around this: it runs in
//! the proxy, not in the client.

/// What the filter decided about a message type it could not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("unknown RFB client message type {0}")]
    UnknownMessage(u8),
    #[error("a client message was too large")]
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
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
    /// A viewer's connection (ClientInit forced shared; only pixel requests without control).
    viewer: bool,
    /// ClientCutText passes (with control, for a viewer).
    cut_text: bool,
    /// Set when the server's stream is read by the clipboard-down filter: SetEncodings is cut
    /// down to what it measures, and SetPixelFormat's pixel size told to it.
    measured: Option<super::servercut::PixelSize>,
    /// A key or pointer event was forwarded since [`Self::take_input`] last asked.
    input: bool,
}

impl Default for ViewOnlyFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl ViewOnlyFilter {
    /// A filter for a viewer whose handshake is done (the next byte is ClientInit).
    pub fn new() -> Self {
        ViewOnlyFilter {
            stage: Stage::Init,
            buffer: Vec::new(),
            viewer: true,
            cut_text: true,
            measured: None,
            input: false,
        }
    }

    /// A filter for the owner's connection: every whole message passes (ClientInit as sent)
    /// except what `without_cut_text` takes away.
    pub fn owner() -> Self {
        ViewOnlyFilter {
            viewer: false,
            ..ViewOnlyFilter::new()
        }
    }

    /// Keeps the browser's encodings and pixel size to what the clipboard-down filter of the
    /// server's stream can measure, telling it the pixel size through `pixel`.
    pub fn measured_by(self, pixel: super::servercut::PixelSize) -> Self {
        ViewOnlyFilter {
            measured: Some(pixel),
            ..self
        }
    }

    /// Drops ClientCutText (clipboard from the browser), whoever holds control.
    pub fn without_cut_text(self) -> Self {
        ViewOnlyFilter {
            cut_text: false,
            ..self
        }
    }

    /// Feeds bytes from the viewer; returns the whole messages to forward to the desktop
    /// (possibly none): those that only ask for pixels, or every one if `control` (the viewer
    /// holds control now); or why the connection must end.
    pub fn feed(&mut self, data: &[u8], control: bool) -> Result<Vec<u8>, Refused> {
        self.buffer.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            let needed = match self.stage {
                Stage::Init => 1,
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
            let message = self.buffer.drain(..needed);
            match self.stage {
                Stage::Init => {
                    // A viewer never asks for exclusive access: force "shared".
                    let flag: Vec<u8> = message.collect();
                    self.stage = Stage::Messages;
                    out.push(if self.viewer { 1 } else { flag[0] });
                }
                Stage::Messages => {
                    let message: Vec<u8> = message.collect();
                    let message = self.measure(message);
                    let kind = message[0];
                    let wanted = !self.viewer || control || allowed(kind);
                    if wanted && (self.cut_text || kind != CLIENT_CUT_TEXT) {
                        self.input |= is_input(kind);
                        out.extend_from_slice(&message);
                    }
                }
            }
        }
    }
}

impl ViewOnlyFilter {
    /// Whether a key or pointer event (the user's input, for idle disconnect) was forwarded
    /// since the last call.
    pub fn take_input(&mut self) -> bool {
        std::mem::take(&mut self.input)
    }

    /// For the clipboard-down filter: SetPixelFormat's pixel size noted, SetEncodings cut down.
    fn measure(&self, message: Vec<u8>) -> Vec<u8> {
        let Some(pixel) = &self.measured else {
            return message;
        };
        match message[0] {
            0 => {
                let bytes = (message[4] as usize / 8).max(1);
                pixel.store(bytes, std::sync::atomic::Ordering::SeqCst);
                message
            }
            2 => {
                let kept: Vec<[u8; 4]> = message[4..]
                    .chunks_exact(4)
                    .map(|c| [c[0], c[1], c[2], c[3]])
                    .filter(|c| super::servercut::keep_encoding(i32::from_be_bytes(*c)))
                    .collect();
                let mut out = vec![2, 0];
                out.extend((kept.len() as u16).to_be_bytes());
                out.extend(kept.concat());
                out
            }
            _ => message,
        }
    }
}

/// The clipboard from the browser (plain or extended).
const CLIENT_CUT_TEXT: u8 = 6;

/// KeyEvent, PointerEvent, QEMU extended key event: the user's input.
fn is_input(kind: u8) -> bool {
    matches!(kind, 4 | 5 | 255)
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

    /// ClientInit asking for exclusive access.
    const CLIENT_INIT: [u8; 1] = [0];

    fn key_event(down: bool, keysym: u32) -> Vec<u8> {
        let mut bytes = vec![4, down as u8, 0, 0];
        bytes.extend_from_slice(&keysym.to_be_bytes());
        bytes
    }

    fn update_request() -> Vec<u8> {
        vec![3, 0, 0, 0, 0, 0, 4, 0, 3, 0]
    }

    fn ready() -> ViewOnlyFilter {
        let mut filter = ViewOnlyFilter::new();
        assert_eq!(filter.feed(&CLIENT_INIT, false).unwrap(), vec![1]);
        filter
    }

    #[test]
    fn client_init_is_forced_shared() {
        let mut filter = ViewOnlyFilter::new();
        let mut bytes = CLIENT_INIT.to_vec();
        bytes.extend(update_request());
        let out = filter.feed(&bytes, true).unwrap();
        assert_eq!(out[0], 1, "shared, even with control");
        assert_eq!(&out[1..], &update_request()[..]);
    }

    #[test]
    fn keys_pointer_clipboard_and_resizes_are_dropped() {
        let mut filter = ready();
        let mut stream = Vec::new();
        stream.extend(key_event(true, 0x61));
        stream.extend([5, 1, 0, 10, 0, 20]); // pointer click
        stream.extend([6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']); // clipboard "abc"
        stream.extend([251, 0, 4, 0, 3, 0, 1, 0]); // SetDesktopSize header, one screen
        stream.extend([0u8; 16]);
        stream.extend([255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30]); // QEMU key
        stream.extend([250, 0, 1, 2]); // xvp shutdown
        stream.extend(update_request());
        assert_eq!(filter.feed(&stream, false).unwrap(), update_request());
    }

    #[test]
    fn with_control_every_whole_message_passes() {
        let mut filter = ready();
        let mut stream = key_event(true, 0x61);
        stream.extend([5, 1, 0, 10, 0, 20]);
        stream.extend(update_request());
        assert_eq!(filter.feed(&stream, true).unwrap(), stream);
    }

    #[test]
    fn messages_split_across_websocket_frames_are_reassembled() {
        let mut filter = ready();
        let mut stream = key_event(true, 0x62);
        stream.extend(update_request());
        let mut forwarded = Vec::new();
        for byte in stream {
            forwarded.extend(filter.feed(&[byte], false).unwrap());
        }
        assert_eq!(forwarded, update_request());
    }

    /// The smuggling the old filter allowed: with control, raw frames went through, so half a
    /// message could reach the server; once control was taken back, the server completed it
    /// with the bytes of "allowed" messages, which could carry a KeyEvent of the viewer's.
    #[test]
    fn a_hand_over_mid_message_forwards_whole_messages_only() {
        // Control taken back in the middle of a KeyEvent: none of it is sent, and the next
        // allowed message arrives whole and alone.
        let mut filter = ready();
        let key = key_event(true, 0x63);
        let mut forwarded = filter.feed(&key[..4], true).unwrap();
        assert!(forwarded.is_empty(), "half a message is never forwarded");
        forwarded.extend(filter.feed(&key[4..], false).unwrap());
        forwarded.extend(filter.feed(&update_request(), false).unwrap());
        assert_eq!(forwarded, update_request());

        // A clipboard message whose header came with control and whose text (shaped like a
        // KeyEvent) comes without: dropped whole, nothing of it reaches the server.
        let mut filter = ready();
        let mut forwarded = filter.feed(&[6, 0, 0, 0, 0, 0, 0, 8], true).unwrap();
        forwarded.extend(filter.feed(&key_event(true, 0x64), false).unwrap());
        forwarded.extend(filter.feed(&update_request(), false).unwrap());
        assert_eq!(forwarded, update_request());

        // Control given in the middle of a KeyEvent: it is sent whole once complete.
        let mut filter = ready();
        let mut forwarded = filter.feed(&key[..3], false).unwrap();
        forwarded.extend(filter.feed(&key[3..], true).unwrap());
        assert_eq!(forwarded, key);
    }

    #[test]
    fn pixel_format_encodings_and_fences_pass() {
        let mut filter = ready();
        let mut stream = vec![0u8; 20]; // SetPixelFormat
        stream.extend([2, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0]); // SetEncodings, two
        stream.extend([248, 0, 0, 0, 0, 0, 0, 0, 2, 7, 7]); // ClientFence with 2 bytes
        stream.extend([150, 1, 0, 0, 0, 0, 4, 0, 3, 0]); // EnableContinuousUpdates
        assert_eq!(filter.feed(&stream, false).unwrap(), stream);
    }

    #[test]
    fn unknown_messages_end_the_connection() {
        let mut filter = ready();
        assert_eq!(
            filter.feed(&[99, 0, 0], true).unwrap_err(),
            Refused::UnknownMessage(99)
        );
    }

    #[test]
    fn extended_clipboard_messages_with_negative_lengths_are_dropped_whole() {
        let mut filter = ready();
        // Extended clipboard "caps": length -8 means 8 bytes follow.
        let mut stream = vec![6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8];
        stream.extend([1, 0, 0, 0x1f, 0, 0, 0, 0]);
        stream.extend(update_request());
        assert_eq!(filter.feed(&stream, false).unwrap(), update_request());
    }

    #[test]
    fn without_cut_text_the_owners_clipboard_is_dropped_and_the_rest_passes() {
        let mut filter = ViewOnlyFilter::owner().without_cut_text();
        assert_eq!(
            filter.feed(&CLIENT_INIT, false).unwrap(),
            CLIENT_INIT,
            "as sent"
        );
        let clip = [6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c'];
        let mut stream = key_event(true, 0x61);
        stream.extend(clip);
        stream.extend([
            6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 1, 0, 0, 0x1f, 0, 0, 0, 0,
        ]);
        stream.extend(update_request());
        let mut expected = key_event(true, 0x61);
        expected.extend(update_request());
        assert_eq!(filter.feed(&stream, false).unwrap(), expected);
        // A viewer with control loses the clipboard too; the owner's plain filter keeps it.
        let mut viewer = ViewOnlyFilter::new().without_cut_text();
        viewer.feed(&CLIENT_INIT, true).unwrap();
        assert!(viewer.feed(&clip, true).unwrap().is_empty());
        let mut owner = ViewOnlyFilter::owner();
        owner.feed(&CLIENT_INIT, false).unwrap();
        assert_eq!(owner.feed(&clip, false).unwrap(), clip);
    }

    #[test]
    fn measured_streams_keep_only_measurable_encodings_and_note_the_pixel_size() {
        let pixel = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(4));
        let mut filter = ViewOnlyFilter::owner().measured_by(pixel.clone());
        filter.feed(&CLIENT_INIT, false).unwrap();
        let mut format = vec![0u8; 20];
        format[4] = 16;
        assert_eq!(filter.feed(&format, false).unwrap(), format);
        assert_eq!(pixel.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Tight (7), ZRLE (16), Cursor (-239), Raw (0): ZRLE and Raw stay.
        let mut encodings = vec![2, 0, 0, 4];
        for e in [7i32, 16, -239, 0] {
            encodings.extend(e.to_be_bytes());
        }
        let mut kept = vec![2, 0, 0, 2];
        kept.extend(16i32.to_be_bytes());
        kept.extend(0i32.to_be_bytes());
        assert_eq!(filter.feed(&encodings, false).unwrap(), kept);
    }

    #[test]
    fn huge_clipboard_claims_are_refused() {
        let mut filter = ready();
        assert_eq!(
            filter
                .feed(&[6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff], true)
                .unwrap_err(),
            Refused::TooLarge
        );
    }

    #[test]
    fn the_owners_keys_and_pointer_count_as_input_and_pixel_requests_do_not() {
        let mut owner = ViewOnlyFilter::owner();
        owner.feed(&CLIENT_INIT, false).unwrap();
        owner.feed(&update_request(), false).unwrap();
        assert!(!owner.take_input());
        let key = key_event(true, 0x61);
        owner.feed(&key[..3], false).unwrap();
        assert!(!owner.take_input(), "half a key event is no input yet");
        owner.feed(&key[3..], false).unwrap();
        assert!(owner.take_input());
        assert!(!owner.take_input(), "each input is reported once");
        owner.feed(&[5, 0, 0, 10, 0, 20], false).unwrap();
        assert!(owner.take_input());
        // A viewer's dropped keys are nobody's input.
        let mut viewer = ready();
        viewer.feed(&key_event(true, 0x61), false).unwrap();
        assert!(!viewer.take_input());
    }
}
