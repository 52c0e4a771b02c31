//! What can go wrong speaking RFB: one error type for the handshake, the client's reads and
//! the captures, so callers tell a refused secret from a desktop not up yet by its variant,
//! not by its text.
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RfbError {
    #[error("the stream closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("the request could not be made: {0}")]
    Request(String),
    #[error("not an RFB server: {0:?}")]
    NotRfb(String),
    #[error("the server refused: {0}")]
    Refused(String),
    /// VNC authentication failed: the secret is wrong (retrying only feeds the blacklist).
    #[error("the server refused the credentials: {0}")]
    CredentialsRefused(String),
    #[error("the server does not offer {wanted} (it offered {offered:?})")]
    SecurityUnavailable {
        wanted: &'static str,
        offered: Vec<u8>,
    },
    #[error("the server sent a {0}-byte text field")]
    FieldTooLong(usize),
    #[error("the server sent {0} bytes of clipboard")]
    ClipboardTooLong(usize),
    #[error("unexpected server message type {0}")]
    UnexpectedMessage(u8),
    #[error("the server sent encoding {0}, not Raw")]
    NotRaw(i32),
    #[error("cannot capture a {width}x{height} desktop")]
    ScreenSize { width: usize, height: usize },
    #[error("a {w}x{h} rectangle at {x},{y} lies outside the {width}x{height} screen")]
    OutsideScreen {
        x: usize,
        y: usize,
        w: usize,
        h: usize,
        width: usize,
        height: usize,
    },
    #[error("a rectangle's pixels do not match its size")]
    PixelCount,
    #[error("no {what} within {}s", .after.as_secs())]
    TimedOut { what: &'static str, after: Duration },
}

impl From<tokio_tungstenite::tungstenite::Error> for RfbError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        RfbError::WebSocket(Box::new(error))
    }
}

/// Runs `work` for at most `after`; past it, [`RfbError::TimedOut`] naming `what`.
pub(super) async fn within<T>(
    after: Duration,
    what: &'static str,
    work: impl std::future::Future<Output = Result<T, RfbError>>,
) -> Result<T, RfbError> {
    tokio::time::timeout(after, work)
        .await
        .map_err(|_| RfbError::TimedOut { what, after })?
}
