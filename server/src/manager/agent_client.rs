//! The manager's calls to agents, behind one trait: the HTTP client in production, a fake in
//! the tests of the state machine's races.
use crate::protocol::{
    AdoptSession, AgentError, CreateSession, CreatedSession, DeleteProfiles, DeletedProfiles,
    ExecOutput, ExecRequest, ReplaceSecret, StartSession, TUNNEL_PROTOCOL,
};
use crate::rfb::ByteStream;
use berth_model::ControlError;
use std::time::Duration;
use uuid::Uuid;

/// Where an agent is reached, and what opens its API.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentRef {
    pub url: String,
    pub hostname: String,
    /// The agent's own API secret (from its last check-in): it opens this agent's API only.
    pub secret: String,
}

impl std::fmt::Debug for AgentRef {
    // The secret stays out of logs.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AgentRef")
            .field("url", &self.url)
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
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
    /// The session's container is no longer the one recorded (Docker restarted it elsewhere).
    #[error("agent {host}: {message}")]
    Moved { host: String, message: String },
}

impl From<AgentFailure> for ControlError {
    fn from(failure: AgentFailure) -> ControlError {
        match failure {
            AgentFailure::Moved { .. } => moved(),
            other => ControlError::Unavailable(other.to_string()),
        }
    }
}

/// The answer when a session's recorded container is not its container any more.
pub fn moved() -> ControlError {
    ControlError::Conflict("The session's desktop moved; try again in a few seconds.".into())
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
        session_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure>;
    /// Takes over a launch that was under way when Berth stopped: answers where the container
    /// streams if it runs (waiting a little for it), `NoContainer` if there is none.
    async fn adopt(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure>;
    /// Which container is the session's now and where it streams (`NoContainer` if none).
    async fn endpoint(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
    ) -> Result<CreatedSession, AgentFailure>;
    async fn act(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        action: ContainerAction,
    ) -> Result<(), AgentFailure>;
    /// Removes the session's container (no error when there is none).
    async fn remove(&self, agent: &AgentRef, session_id: Uuid) -> Result<(), AgentFailure>;
    async fn exec(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        request: &ExecRequest,
        timeout: Duration,
    ) -> Result<ExecOutput, AgentFailure>;
    /// The session's RFB port through its agent (session ports listen on the agent host's
    /// loopback), if `container_id` is still the session's container.
    async fn tunnel(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        container_id: &str,
    ) -> Result<Box<dyn ByteStream>, AgentFailure>;
    /// Replaces a staged session's VNC password with its new owner's secret.
    async fn replace_secret(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        secret: &str,
    ) -> Result<(), AgentFailure>;
    /// Deletes profile folders under the agent's profile root.
    async fn delete_profiles(
        &self,
        agent: &AgentRef,
        request: &DeleteProfiles,
    ) -> Result<DeletedProfiles, AgentFailure> {
        let _ = request;
        Err(AgentFailure::Refused {
            host: agent.hostname.clone(),
            message: "this client cannot delete profiles".into(),
        })
    }
}

/// Agents' HTTP API, each called with its own secret.
pub struct HttpAgentClient {
    http: reqwest::Client,
}

/// Opening a tunnel (the agent asks Docker and connects to the port) gets this long.
const TUNNEL_OPEN: Duration = Duration::from_secs(10);

/// Short calls (pause, stop, removal) get this long.
const SHORT_CALL: Duration = Duration::from_secs(30);

impl Default for HttpAgentClient {
    fn default() -> HttpAgentClient {
        HttpAgentClient::new()
    }
}

impl HttpAgentClient {
    pub fn new() -> HttpAgentClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client needs no system configuration");
        HttpAgentClient { http }
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
            .bearer_auth(&agent.secret)
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
    async fn delete_profiles(
        &self,
        agent: &AgentRef,
        request: &DeleteProfiles,
    ) -> Result<DeletedProfiles, AgentFailure> {
        let path = "/v1/profiles/delete";
        let timeout = Duration::from_secs(300);
        self.call(agent, reqwest::Method::POST, path, Some(request), timeout)
            .await
    }

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
        session_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        let body = StartSession {
            secret: secret.to_owned(),
        };
        let path = format!("/v1/sessions/{session_id}/start");
        self.call(agent, reqwest::Method::POST, &path, Some(&body), timeout)
            .await
    }

    async fn adopt(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        secret: &str,
        timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        let body = AdoptSession {
            secret: secret.to_owned(),
            wait_secs: timeout.as_secs(),
        };
        let path = format!("/v1/sessions/{session_id}/adopt");
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
        session_id: Uuid,
    ) -> Result<CreatedSession, AgentFailure> {
        let path = format!("/v1/sessions/{session_id}");
        self.call::<CreatedSession, ()>(agent, reqwest::Method::GET, &path, None, SHORT_CALL)
            .await
    }

    async fn act(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        action: ContainerAction,
    ) -> Result<(), AgentFailure> {
        let path = format!("/v1/sessions/{session_id}/{}", action.path());
        self.call::<serde_json::Value, ()>(agent, reqwest::Method::POST, &path, None, SHORT_CALL)
            .await
            .map(|_| ())
    }

    async fn replace_secret(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        secret: &str,
    ) -> Result<(), AgentFailure> {
        let body = ReplaceSecret {
            secret: secret.to_owned(),
        };
        let path = format!("/v1/sessions/{session_id}/secret");
        let timeout = Duration::from_secs(20);
        self.call::<serde_json::Value, _>(agent, reqwest::Method::POST, &path, Some(&body), timeout)
            .await
            .map(|_| ())
    }

    async fn remove(&self, agent: &AgentRef, session_id: Uuid) -> Result<(), AgentFailure> {
        let path = format!("/v1/sessions/{session_id}");
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
        session_id: Uuid,
        request: &ExecRequest,
        timeout: Duration,
    ) -> Result<ExecOutput, AgentFailure> {
        let path = format!("/v1/sessions/{session_id}/exec");
        self.call(agent, reqwest::Method::POST, &path, Some(request), timeout)
            .await
    }

    async fn tunnel(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        container_id: &str,
    ) -> Result<Box<dyn ByteStream>, AgentFailure> {
        let unreachable = |reason: String| AgentFailure::Unreachable {
            host: agent.hostname.clone(),
            reason,
        };
        let request = self
            .http
            .get(format!("{}/v1/sessions/{session_id}/stream", agent.url))
            .query(&[("container", container_id)])
            .bearer_auth(&agent.secret)
            .header(reqwest::header::CONNECTION, "upgrade")
            .header(reqwest::header::UPGRADE, TUNNEL_PROTOCOL);
        // No reqwest timeout: it would also bound the tunnel's lifetime.
        let response = tokio::time::timeout(TUNNEL_OPEN, request.send())
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", TUNNEL_OPEN.as_secs())))?
            .map_err(|error| unreachable(error.to_string()))?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            return Err(AgentFailure::Moved {
                host: agent.hostname.clone(),
                message: "the session's container is not the one recorded".into(),
            });
        }
        if response.status() != reqwest::StatusCode::SWITCHING_PROTOCOLS {
            return Err(reply::<serde_json::Value>(response, &agent.hostname)
                .await
                .err()
                .unwrap_or_else(|| AgentFailure::Refused {
                    host: agent.hostname.clone(),
                    message: "answered the tunnel request without switching protocols".into(),
                }));
        }
        let upgraded = response
            .upgrade()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        Ok(Box::new(upgraded))
    }
}
