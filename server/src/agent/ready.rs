//! Waiting until a session streams: its VNC server, on the port published on this host's
//! loopback, accepts the session's secret and describes its desktop (ServerInit).
use super::runtime::PUBLISH_ADDRESS;
use crate::rfb::{self, RfbError};
use std::time::Duration;
use tokio::time::Instant;

/// Between attempts: a refused attempt costs a loopback connection and nothing else, and
/// every millisecond waited here is a millisecond of the user's launch.
const RETRY: Duration = Duration::from_millis(5);

/// How long one attempt may wait for the VNC server's answers.
const ATTEMPT: Duration = Duration::from_secs(5);

/// One attempt: TCP to the published port, VNC authentication, ClientInit → ServerInit.
pub async fn desktop_answers(port: u16, secret: &str) -> Result<rfb::ServerInit, RfbError> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect((PUBLISH_ADDRESS, port)).await?;
        stream.set_nodelay(true)?;
        rfb::server_init(Box::new(stream), secret).await
    };
    tokio::time::timeout(ATTEMPT, attempt)
        .await
        .map_err(|_| RfbError::TimedOut {
            what: "ServerInit",
            after: ATTEMPT,
        })?
}

/// Polls until the desktop answers, `give_up()` says the container died, or time runs out.
/// A refused secret ends the wait at once: retrying would only feed the server's blacklist.
pub async fn wait_until_streaming<F, Fut>(
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
        match desktop_answers(port, secret).await {
            Ok(_) => return Ok(started.elapsed()),
            Err(error @ RfbError::CredentialsRefused(_)) => {
                return Err(format!("the desktop refused the session's secret: {error}"))
            }
            Err(error) => last_error = error.to_string(),
        }
        attempts += 1;
        // Checking the container costs a Docker call: do it every twentieth attempt.
        if attempts.is_multiple_of(20) {
            if let Some(reason) = give_up().await {
                return Err(reason);
            }
        }
        tokio::time::sleep(RETRY).await;
    }
    Err(format!(
        "the desktop did not start streaming within {}s (last error: {last_error})",
        timeout.as_secs()
    ))
}
