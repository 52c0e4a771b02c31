//! RFB bytes however the transport splits them: a session container's TCP stream (or a
//! tunnel through its agent), or Berth's WebSocket endpoint as a browser opens it.
use super::RfbError;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;

/// Any connected byte stream: a TCP connection to a container, or a tunnel through its agent.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(super) enum Transport {
    WebSocket(Box<Socket>),
    Bytes(Box<dyn ByteStream>),
}

/// The longest server field read whole (desktop names, failure reasons).
const MAX_FIELD: usize = 64 * 1024;

/// Reads RFB bytes however the transport splits them.
pub(super) struct Reader {
    pub(super) transport: Transport,
    pub(super) buffer: Vec<u8>,
}

impl Reader {
    pub(super) fn over(stream: Box<dyn ByteStream>) -> Reader {
        Reader {
            transport: Transport::Bytes(stream),
            buffer: Vec::new(),
        }
    }

    /// At least one more chunk into the buffer.
    pub(super) async fn fill(&mut self) -> Result<(), RfbError> {
        match &mut self.transport {
            Transport::WebSocket(socket) => loop {
                match socket.next().await {
                    Some(Ok(Message::Binary(bytes))) => {
                        self.buffer.extend_from_slice(&bytes);
                        return Ok(());
                    }
                    Some(Ok(Message::Close(_))) | None => return Err(RfbError::Closed),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.into()),
                }
            },
            Transport::Bytes(stream) => {
                let mut chunk = [0u8; 16 * 1024];
                match stream.read(&mut chunk).await? {
                    0 => Err(RfbError::Closed),
                    read => {
                        self.buffer.extend_from_slice(&chunk[..read]);
                        Ok(())
                    }
                }
            }
        }
    }

    pub(super) async fn take(&mut self, count: usize) -> Result<Vec<u8>, RfbError> {
        while self.buffer.len() < count {
            self.fill().await?;
        }
        Ok(self.buffer.drain(..count).collect())
    }

    pub(super) async fn take_u32(&mut self) -> Result<u32, RfbError> {
        let bytes = self.take(4).await?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A length-prefixed text field (at most [`MAX_FIELD`] bytes).
    pub(super) async fn take_text(&mut self) -> Result<String, RfbError> {
        let length = self.take_u32().await? as usize;
        if length > MAX_FIELD {
            return Err(RfbError::FieldTooLong(length));
        }
        Ok(String::from_utf8_lossy(&self.take(length).await?).into_owned())
    }

    /// Reads past `count` bytes without keeping them.
    pub(super) async fn skip(&mut self, mut count: usize) -> Result<(), RfbError> {
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

    pub(super) async fn send(&mut self, bytes: Vec<u8>) -> Result<(), RfbError> {
        match &mut self.transport {
            Transport::WebSocket(socket) => Ok(socket.send(Message::Binary(bytes.into())).await?),
            Transport::Bytes(stream) => {
                stream.write_all(&bytes).await?;
                Ok(stream.flush().await?)
            }
        }
    }
}

/// Opens a WebSocket to `url` with the given headers (cookie, origin) and the `binary`
/// subprotocol, as noVNC does.
pub(super) async fn connect_websocket(
    url: &str,
    headers: &[(&str, String)],
) -> Result<Reader, RfbError> {
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        let name: HeaderName = name
            .parse()
            .map_err(|_| RfbError::Request(format!("bad header name {name}")))?;
        let value: HeaderValue = value
            .parse()
            .map_err(|_| RfbError::Request(format!("bad value for header {name}")))?;
        request.headers_mut().insert(name, value);
    }
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    // Nagle off, as browsers have it: RFB's small client messages (SetEncodings, then
    // FramebufferUpdateRequest) would otherwise wait out the server's delayed ACK (40 ms).
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
    Ok(Reader {
        transport: Transport::WebSocket(Box::new(socket)),
        buffer: Vec::new(),
    })
}
