//! Berth's side of the RFB handshake with a browser. The proxy has already authenticated with
//! the session's VNC server (the browser never sees the secret) and the browser was authorized
//! by its cookie, so Berth greets it as a server offering RFB 3.8 and security type None;
//! what the browser sends after that (ClientInit) goes to the VNC server. Pure: fed the
//! browser's bytes however its WebSocket frames split them, it says what to answer.

/// The version Berth announces (and the only one it accepts back).
pub const SERVER_VERSION: &[u8; 12] = b"RFB 003.008\n";
/// RFB security type None.
const NONE: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the client's 12-byte version.
    Version,
    /// Waiting for the client's chosen security type.
    Security,
    Done,
}

/// Why the browser's handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the client asked for protocol version {0:?}; Berth speaks RFB 003.008")]
    Version(String),
    #[error("the client chose security type {0}; Berth offers None only")]
    Security(u8),
}

impl Refused {
    /// What to send before closing, in the form RFB 3.8 gives failures at this stage.
    pub fn reply(&self) -> Vec<u8> {
        let reason = self.to_string();
        let mut reply = match self {
            // "No security types", then the reason.
            Refused::Version(_) => vec![0],
            // SecurityResult "failed", then the reason.
            Refused::Security(_) => vec![0, 0, 0, 1],
        };
        reply.extend_from_slice(&(reason.len() as u32).to_be_bytes());
        reply.extend_from_slice(reason.as_bytes());
        reply
    }
}

/// What to do after some of the browser's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// To send to the browser now.
    pub reply: Vec<u8>,
    /// Once the handshake is complete: the browser's bytes past it (its ClientInit, perhaps
    /// more), for the VNC server.
    pub rest: Option<Vec<u8>>,
}

pub struct Greeting {
    stage: Stage,
    buffer: Vec<u8>,
}

impl Default for Greeting {
    fn default() -> Self {
        Self::new()
    }
}

impl Greeting {
    /// A handshake whose server version has been sent.
    pub fn new() -> Greeting {
        Greeting {
            stage: Stage::Version,
            buffer: Vec::new(),
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, Refused> {
        self.buffer.extend_from_slice(data);
        let mut progress = Progress::default();
        loop {
            match self.stage {
                Stage::Version if self.buffer.len() >= SERVER_VERSION.len() => {
                    let version: Vec<u8> = self.buffer.drain(..SERVER_VERSION.len()).collect();
                    if version != SERVER_VERSION {
                        return Err(Refused::Version(
                            String::from_utf8_lossy(&version).into_owned(),
                        ));
                    }
                    progress.reply.extend_from_slice(&[1, NONE]);
                    self.stage = Stage::Security;
                }
                Stage::Security if !self.buffer.is_empty() => {
                    let chosen = self.buffer.remove(0);
                    if chosen != NONE {
                        return Err(Refused::Security(chosen));
                    }
                    progress.reply.extend_from_slice(&[0, 0, 0, 0]);
                    self.stage = Stage::Done;
                }
                Stage::Done => {
                    progress.rest = Some(std::mem::take(&mut self.buffer));
                    return Ok(progress);
                }
                _ => return Ok(progress),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_is_offered_none_and_its_client_init_is_passed_on() {
        let mut greeting = Greeting::new();
        let progress = greeting.feed(b"RFB 003.008\n").unwrap();
        assert_eq!(progress.reply, vec![1, NONE]);
        assert_eq!(progress.rest, None);
        // The choice and ClientInit (shared) in one frame.
        let progress = greeting.feed(&[NONE, 1]).unwrap();
        assert_eq!(progress.reply, vec![0, 0, 0, 0]);
        assert_eq!(progress.rest, Some(vec![1]));
    }

    #[test]
    fn bytes_split_anywhere_give_the_same_answers() {
        let stream = b"RFB 003.008\n\x01\x01\x03";
        let mut greeting = Greeting::new();
        let mut replies = Vec::new();
        let mut rest = None;
        for byte in stream {
            let progress = greeting.feed(&[*byte]).unwrap();
            replies.extend(progress.reply);
            if progress.rest.is_some() {
                rest = progress.rest;
                break;
            }
        }
        assert_eq!(replies, vec![1, NONE, 0, 0, 0, 0]);
        assert_eq!(rest, Some(vec![]), "done right after the security type");
    }

    #[test]
    fn other_versions_and_security_types_are_refused_with_a_reason() {
        let refused = Greeting::new().feed(b"RFB 003.003\n").unwrap_err();
        assert_eq!(refused, Refused::Version("RFB 003.003\n".into()));
        assert_eq!(refused.reply()[0], 0, "no security types");

        let mut greeting = Greeting::new();
        greeting.feed(SERVER_VERSION).unwrap();
        // VNC authentication: the browser must not get to try the session's password.
        let refused = greeting.feed(&[2]).unwrap_err();
        assert_eq!(refused, Refused::Security(2));
        let reply = refused.reply();
        assert_eq!(&reply[..4], &[0, 0, 0, 1], "SecurityResult failed");
        let reason = String::from_utf8(reply[8..].to_vec()).unwrap();
        assert!(reason.contains("None only"), "{reason}");
    }
}
