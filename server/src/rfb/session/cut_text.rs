//! Reading a [`Session`]'s server messages for the clipboard the desktop sends
//! (ServerCutText), past the framebuffer updates (Raw, 32 bits per pixel: what `open` asks of
//! Berth's sessions, which run at depth 24).
use super::super::client::{skip_message, MAX_CUT_TEXT};
use super::Session;
use crate::rfb::RfbError;
use std::time::Duration;

impl Session {
    /// The text of the next ServerCutText within `wait`, or None. A session that timed out
    /// here may be in the middle of a message: it is not to be read again.
    pub async fn cut_text_within(&mut self, wait: Duration) -> Option<String> {
        tokio::time::timeout(wait, self.next_cut_text())
            .await
            .ok()
            .and_then(Result::ok)
    }

    async fn next_cut_text(&mut self) -> Result<String, RfbError> {
        loop {
            while self.unread_rects > 0 {
                let header = self.reader.take(12).await?;
                let width = u16::from_be_bytes([header[4], header[5]]) as usize;
                let height = u16::from_be_bytes([header[6], header[7]]) as usize;
                match i32::from_be_bytes([header[8], header[9], header[10], header[11]]) {
                    0 => self.reader.skip(width * height * 4).await?,
                    -223 => {}
                    -224 => self.unread_rects = 1,
                    other => return Err(RfbError::NotRaw(other)),
                }
                self.unread_rects -= 1;
            }
            let kind = self.reader.take(1).await?[0];
            match kind {
                0 => {
                    let header = self.reader.take(3).await?;
                    self.unread_rects = u16::from_be_bytes([header[1], header[2]]);
                }
                3 => {
                    self.reader.take(3).await?;
                    let length = (self.reader.take_u32().await? as i32).unsigned_abs() as usize;
                    if length > MAX_CUT_TEXT {
                        return Err(RfbError::ClipboardTooLong(length));
                    }
                    let text = self.reader.take(length).await?;
                    return Ok(String::from_utf8_lossy(&text).into_owned());
                }
                other => skip_message(&mut self.reader, other).await?,
            }
        }
    }
}
