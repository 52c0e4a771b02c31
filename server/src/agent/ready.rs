//! Waiting until a session streams: its web endpoint accepts the secret and the VNC server
//! behind it sends the RFB greeting.
use base64::Engine;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The Authorization header value the session's web endpoint expects.
pub fn basic_auth(secret: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("berth:{secret}"));
    format!("Basic {encoded}")
}

/// One attempt: a websocket to /websockify that yields the RFB version banner.
pub async fn stream_answers(host: &str, port: u16, secret: &str) -> Result<(), String> {
    let mut request = format!("ws://{host}:{port}/websockify")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "authorization",
        basic_auth(secret)
            .parse()
            .map_err(|_| "bad secret".to_owned())?,
    );
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| e.to_string())?;
    let first = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .map_err(|_| "no RFB greeting within 5 s".to_owned())?;
    let result = match first {
        Some(Ok(Message::Binary(bytes))) if bytes.starts_with(b"RFB ") => Ok(()),
        Some(Ok(other)) => Err(format!("unexpected first message: {other:?}")),
        Some(Err(error)) => Err(error.to_string()),
        None => Err("closed before the RFB greeting".into()),
    };
    let _ = socket.close(None).await;
    result
}

/// Polls until the stream answers, `give_up()` says the container died, or time runs out.
pub async fn wait_until_streaming<F, Fut>(
    host: &str,
    port: u16,
    secret: &str,
    timeout: Duration,
    mut give_up: F,
) -> Result<Duration, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let started = Instant::now();
    let mut last_error = String::new();
    let mut attempts = 0u32;
    while started.elapsed() < timeout {
        match stream_answers(host, port, secret).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(error) => last_error = error,
        }
        attempts += 1;
        // Checking the container costs a Docker call: do it every tenth attempt.
        if attempts.is_multiple_of(10) {
            if let Some(reason) = give_up().await {
                return Err(reason);
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!(
        "the desktop did not start streaming within {}s (last error: {last_error})",
        timeout.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_the_berth_user() {
        assert_eq!(basic_auth("pw"), "Basic YmVydGg6cHc=");
    }
}
