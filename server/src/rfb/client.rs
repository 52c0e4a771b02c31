//! The RFB (VNC) handshake Berth's client side speaks: RFB 3.8 version and security over a
//! session container's TCP port (VNC authentication with the session's secret) or over
//! Berth's WebSocket endpoint (security type None: the browser's cookie was the credential),
//! then ServerInit and the first framebuffer update: enough for the agent's readiness probe,
//! the proxy's side of the handshake, tests and benchmarks.
use super::auth;
use super::error::within;
use super::reader::{ByteStream, Reader, Transport};
use super::RfbError;
use std::time::Duration;

/// Clipboard text from the server is skipped, up to this much.
pub(super) const MAX_CUT_TEXT: usize = 16 << 20;

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
) -> Result<Authenticated, RfbError> {
    let mut rfb = Reader::over(stream);
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
) -> Result<ServerInit, RfbError> {
    let mut rfb = Reader::over(stream);
    negotiate(&mut rfb, Some(password)).await?;
    init(&mut rfb).await
}

/// Opens `url` (Berth's `/desktop/<session_id>/websockify`) with the given headers, shakes hands
/// (security type None) and waits for the first framebuffer update.
pub async fn first_framebuffer(
    url: &str,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<Framebuffer, RfbError> {
    super::Session::open(url, headers, timeout)
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
) -> Result<Framebuffer, RfbError> {
    let session = async {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        let mut rfb = Reader::over(Box::new(stream));
        negotiate(&mut rfb, password).await?;
        first_update(rfb).await
    };
    let (_, frame) = within(timeout, "framebuffer", session).await?;
    Ok(frame)
}

/// RFB security types.
const NONE: u8 = 1;
const VNC_AUTH: u8 = 2;

/// The RFB 3.8 version and security handshake: VNC authentication with `password`, or None
/// when there is no password.
pub(super) async fn negotiate(rfb: &mut Reader, password: Option<&str>) -> Result<(), RfbError> {
    let version = rfb.take(12).await?;
    if !version.starts_with(b"RFB 003.") {
        return Err(RfbError::NotRfb(
            String::from_utf8_lossy(&version).into_owned(),
        ));
    }
    rfb.send(b"RFB 003.008\n".to_vec()).await?;
    let count = rfb.take(1).await?[0] as usize;
    if count == 0 {
        return Err(RfbError::Refused(rfb.take_text().await?));
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
            return Err(RfbError::SecurityUnavailable {
                wanted,
                offered: types,
            });
        }
    }
    if rfb.take_u32().await? != 0 {
        let reason = rfb.take_text().await.unwrap_or_default();
        return Err(RfbError::CredentialsRefused(reason));
    }
    Ok(())
}

/// ClientInit (shared) and ServerInit.
pub(super) async fn init(rfb: &mut Reader) -> Result<ServerInit, RfbError> {
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
pub(super) async fn first_update(mut rfb: Reader) -> Result<(Reader, Framebuffer), RfbError> {
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
pub(super) fn update_request(width: u16, height: u16) -> Vec<u8> {
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    request
}

/// Reads past a server message other than FramebufferUpdate (its type byte already read).
pub(super) async fn skip_message(rfb: &mut Reader, kind: u8) -> Result<(), RfbError> {
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
                return Err(RfbError::ClipboardTooLong(length));
            }
            rfb.skip(length).await?;
        }
        other => return Err(RfbError::UnexpectedMessage(other)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

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
        let refused = refused.err().unwrap();
        assert!(
            matches!(&refused, RfbError::CredentialsRefused(reason) if reason == "bad"),
            "{refused}"
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
        assert!(matches!(
            refused.err().unwrap(),
            RfbError::SecurityUnavailable {
                wanted: "VNC authentication",
                ..
            }
        ));
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
        assert!(matches!(
            refused.err().unwrap(),
            RfbError::FieldTooLong(0xffff_ffff)
        ));
    }
}
