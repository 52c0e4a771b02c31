//! The manager's side of file transfer: the running session's agent is asked over its API,
//! with the bytes streamed through in both directions (never collected here). Who may
//! transfer was decided before (`files::access`). The bytes go on in large pieces
//! (`files::chunks`) whatever pieces they came in.
use super::agent_client::AgentRef;
use super::Manager;
use crate::files::chunks::{coalesced, PIECE};
use crate::files::{names, ByteStream, FileEntry, FileError, Uploaded};
use berth_model::{ControlError, SessionStatus};
use futures_util::TryStreamExt;
use std::sync::OnceLock;
use std::time::Duration;
use uuid::Uuid;

/// Listing a folder gets this long; transfers have no overall limit (any size), only the
/// connection's.
const LIST_CALL: Duration = Duration::from_secs(45);

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client needs no system configuration")
    })
}

fn unreachable(agent: &AgentRef, error: reqwest::Error) -> FileError {
    FileError::Failed(format!("agent {} did not answer: {error}", agent.hostname))
}

/// The agent's refusal, as the kind of error it names.
async fn refusal(response: reqwest::Response) -> FileError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<crate::protocol::AgentError>(&body)
        .map(|error| error.error)
        .unwrap_or(body);
    FileError::from_status(status, message)
}

fn url(agent: &AgentRef, session_id: Uuid, rest: &str) -> String {
    format!("{}/v1/sessions/{session_id}/{rest}", agent.url)
}

impl Manager {
    /// The agent of a session that is running (Conflict otherwise).
    pub async fn file_agent(&self, session_id: Uuid) -> Result<AgentRef, ControlError> {
        let row = self.session_state(session_id).await?;
        if row.status != SessionStatus::Running {
            return Err(ControlError::Conflict(format!(
                "The session is {}; files move only while it runs.",
                row.status
            )));
        }
        self.agent_of(super::placed_on(&row)?).await
    }
}

/// Streams `body` (`size` bytes) into the session's `~/Uploads/name`.
pub async fn upload(
    agent: &AgentRef,
    session_id: Uuid,
    name: &str,
    size: u64,
    body: ByteStream,
) -> Result<Uploaded, FileError> {
    let target = url(
        agent,
        session_id,
        &format!("uploads/{}", names::encode_segment(name)),
    );
    let request = http()
        .put(target)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(coalesced(body, PIECE)));
    answered(agent, request)
        .await?
        .json()
        .await
        .map_err(|error| unreachable(agent, error))
}

/// Sends a call to the agent with its secret; its answer when it succeeded, else the agent's
/// refusal or its unreachability.
async fn answered(
    agent: &AgentRef,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, FileError> {
    let response = request
        .bearer_auth(&agent.secret)
        .send()
        .await
        .map_err(|error| unreachable(agent, error))?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    Ok(response)
}

/// The session's `~/Downloads/name`: its size and its bytes as the agent sends them.
pub async fn download(
    agent: &AgentRef,
    session_id: Uuid,
    name: &str,
) -> Result<(u64, ByteStream), FileError> {
    let target = url(
        agent,
        session_id,
        &format!("downloads/{}", names::encode_segment(name)),
    );
    let response = answered(agent, http().get(target)).await?;
    let size = response.content_length().ok_or_else(|| {
        FileError::Failed(format!(
            "agent {} sent a download without its length",
            agent.hostname
        ))
    })?;
    let stream = response.bytes_stream().map_err(std::io::Error::other);
    Ok((size, coalesced(Box::pin(stream), PIECE)))
}

/// The files of the session's `~/Downloads`.
pub async fn list(agent: &AgentRef, session_id: Uuid) -> Result<Vec<FileEntry>, FileError> {
    let request = http()
        .get(url(agent, session_id, "downloads"))
        .timeout(LIST_CALL);
    answered(agent, request)
        .await?
        .json()
        .await
        .map_err(|error| unreachable(agent, error))
}
