//! The manager's calls to agents, behind one trait: the HTTP client in production, a fake in
//! the tests of the state machine's races.
use crate::protocol::{
    AdoptSession, AgentError, CreateSession, CreatedSession, ExecOutput, ExecRequest, StartSession,
};
use app::AppError;
use std::time::Duration;
use uuid::Uuid;

/// Where an agent is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRef {
    pub url: String,
    pub hostname: String,
}

/// What can go wrong asking an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentFailure {
    #[error("agent {host} did not answer: {reason}")]
    Unreachable { host: String, reason: String },
    /// The agent has no container for the session.
    #[error("agent {host}: {message}")]
    NoContainer { host: String, message: String },
    #[error("agent {host}: {message}")]
    Refused { host: String, message: String },
}

impl From<AgentFailure> for AppError {
    fn from(failure: AgentFailure) -> AppError {
        AppError::Unavailable(failure.to_string())
    }
}

/// A change of a container's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerAction {
    Pause,
    Resume,
    Stop,
}

impl ContainerAction {
    fn path(self) -> &'static str {
        match self {
            ContainerAction::Pause => "pause",
            ContainerAction::Resume => "resume",
            ContainerAction::Stop => "stop",
        }
    }
}

#[async_trait::async_trait]
pub trait AgentClient: Send + Sync + 'static {
    /// Creates the session's container and answers once its desktop streams.
    async fn create(
        &self,
        agent: &AgentRef,
        spec: &CreateSession,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure>;
    /// Starts a stopped session's container again; answers once it streams.
    async fn start(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure>;
    /// Takes over a launch that was under way when Berth stopped: answers where the container
    /// streams if it runs (waiting a little for it), `NoContainer` if there is none.
    async fn adopt(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure>;
    /// Which container is the session's now and where it streams (`NoContainer` if none).
    async fn endpoint(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
    ) -> Result<CreatedSession, AgentFailure>;
    async fn act(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        action: ContainerAction,
    ) -> Result<(), AgentFailure>;
    /// Removes the session's container (no error when there is none).
    async fn remove(&self, agent: &AgentRef, kasm_id: Uuid) -> Result<(), AgentFailure>;
    async fn exec(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        request: &ExecRequest,
        timeout: Duration,
    ) -> Result<ExecOutput, AgentFailure>;
}

/// Agents' HTTP API, with the shared agent token.
pub struct HttpAgentClient {
    http: reqwest::Client,
    token: String,
}

/// Short calls (pause, stop, removal) get this long.
const SHORT_CALL: Duration = Duration::from_secs(30);

impl HttpAgentClient {
    pub fn new(token: String) -> HttpAgentClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client needs no system configuration");
        HttpAgentClient { http, token }
    }

    async fn call<T: serde::de::DeserializeOwned, B: serde::Serialize + Sync>(
        &self,
        agent: &AgentRef,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, AgentFailure> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", agent.url))
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| AgentFailure::Unreachable {
                host: agent.hostname.clone(),
                reason: error.to_string(),
            })?;
        reply(response, &agent.hostname).await
    }
}

/// Decodes an agent's answer, turning its error body into a message naming the agent.
async fn reply<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    host: &str,
) -> Result<T, AgentFailure> {
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|error| AgentFailure::Unreachable {
            host: host.to_owned(),
            reason: error.to_string(),
        })?;
    if !status.is_success() {
        let message = serde_json::from_str::<AgentError>(&body)
            .map(|error| error.error)
            .unwrap_or(body);
        let host = host.to_owned();
        return Err(if status == reqwest::StatusCode::NOT_FOUND {
            AgentFailure::NoContainer { host, message }
        } else {
            AgentFailure::Refused { host, message }
        });
    }
    // An empty body (removal, pause, ...) decodes as JSON null.
    let body = if body.is_empty() { "null" } else { &body };
    serde_json::from_str(body).map_err(|error| AgentFailure::Refused {
        host: host.to_owned(),
        message: format!("answered badly: {error}"),
    })
}

#[async_trait::async_trait]
impl AgentClient for HttpAgentClient {
    async fn create(
        &self,
        agent: &AgentRef,
        spec: &CreateSession,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        self.call(
            agent,
            reqwest::Method::POST,
            "/v1/sessions",
            Some(spec),
            timeout,
        )
        .await
    }

    async fn start(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        let body = StartSession {
            secret: secret.to_owned(),
        };
        let path = format!("/v1/sessions/{kasm_id}/start");
        self.call(agent, reqwest::Method::POST, &path, Some(&body), timeout)
            .await
    }

    async fn adopt(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        let body = AdoptSession {
            secret: secret.to_owned(),
            wait_secs: timeout.as_secs(),
        };
        let path = format!("/v1/sessions/{kasm_id}/adopt");
        self.call(
            agent,
            reqwest::Method::POST,
            &path,
            Some(&body),
            timeout + Duration::from_secs(10),
        )
        .await
    }

    async fn endpoint(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
    ) -> Result<CreatedSession, AgentFailure> {
        let path = format!("/v1/sessions/{kasm_id}");
        self.call::<CreatedSession, ()>(agent, reqwest::Method::GET, &path, None, SHORT_CALL)
            .await
    }

    async fn act(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        action: ContainerAction,
    ) -> Result<(), AgentFailure> {
        let path = format!("/v1/sessions/{kasm_id}/{}", action.path());
        self.call::<serde_json::Value, ()>(agent, reqwest::Method::POST, &path, None, SHORT_CALL)
            .await
            .map(|_| ())
    }

    async fn remove(&self, agent: &AgentRef, kasm_id: Uuid) -> Result<(), AgentFailure> {
        let path = format!("/v1/sessions/{kasm_id}");
        match self
            .call::<serde_json::Value, ()>(agent, reqwest::Method::DELETE, &path, None, SHORT_CALL)
            .await
        {
            Ok(_) | Err(AgentFailure::NoContainer { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn exec(
        &self,
        agent: &AgentRef,
        kasm_id: Uuid,
        request: &ExecRequest,
        timeout: Duration,
    ) -> Result<ExecOutput, AgentFailure> {
        let path = format!("/v1/sessions/{kasm_id}/exec");
        self.call(agent, reqwest::Method::POST, &path, Some(request), timeout)
            .await
    }
}
