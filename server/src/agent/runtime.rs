//! The agent's boundary with the container engine: what it asks of a session's container
//! (create, remove, pause, inspect, exec...) as a trait, so the agent's logic can be tested
//! without Docker, with the labels and ports every implementation shares.
use crate::protocol::{ContainerReport, CreateSession, ExecOutput, ExecRequest};
use uuid::Uuid;

/// The session's RFB port inside its container (Xvnc, VNC authentication; images/README.md).
pub const STREAM_PORT: &str = "5901/tcp";
pub const STREAM_CONTAINER_PORT: u16 = 5901;
/// Session ports are published on the host's loopback only: no other machine reaches a
/// session's VNC server; a remote manager's proxy tunnels through this agent's API.
pub const PUBLISH_ADDRESS: &str = "127.0.0.1";
pub const LABEL_SESSION: &str = "berth.kasm_id";
pub const LABEL_USER: &str = "berth.user_id";
pub const LABEL_IMAGE: &str = "berth.image_id";
/// The agent (and deployment) that owns a container, "<agent>@<deployment_id>": each agent
/// reconciles only its own.
pub const LABEL_AGENT: &str = "berth.agent";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("Docker is not reachable: {0}")]
    Unreachable(String),
    #[error("image {0} is not present on this host")]
    ImageMissing(String),
    #[error("no session container for {0}")]
    NotFound(Uuid),
    #[error("the session container of {0} is not running")]
    NotRunning(Uuid),
    #[error("the container {0}")]
    Failed(String),
    /// The request asks for something sessions may not have.
    #[error("{0}")]
    Refused(String),
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
}

#[derive(Debug, Clone, Default)]
pub struct HostResources {
    pub cores: f64,
    pub memory: i64,
    pub disk_free: i64,
    pub hostname: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Pause,
    Resume,
    Stop,
    Start,
}

#[async_trait::async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Creates and starts a session container; returns its id and published host port.
    async fn create_session(
        &self,
        spec: &CreateSession,
        owner: &str,
    ) -> Result<(String, u16), RuntimeError>;
    /// Removes the session's container (true if there was one).
    async fn remove_session(&self, session_id: Uuid) -> Result<bool, RuntimeError>;
    async fn act(&self, session_id: Uuid, action: Action) -> Result<(), RuntimeError>;
    /// The session's container id and the host port its stream is published on now.
    async fn published(&self, session_id: Uuid) -> Result<(String, u16), RuntimeError>;
    /// Like `published`, for a container that must be running now (`NotRunning` otherwise):
    /// what the proxy's check before each connection asks.
    async fn streaming(&self, session_id: Uuid) -> Result<(String, u16), RuntimeError>;
    /// Whether the session's container is still running (for launch failure detection).
    async fn is_running(&self, container_id: &str) -> Result<bool, RuntimeError>;
    async fn logs_tail(&self, container_id: &str) -> String;
    /// Every session container on this host (any owner), with its owner label.
    async fn list_sessions(&self) -> Result<Vec<ContainerReport>, RuntimeError>;
    async fn has_image(&self, name: &str) -> Result<bool, RuntimeError>;
    async fn pull_image(&self, name: &str) -> Result<(), RuntimeError>;
    async fn resources(&self) -> Result<HostResources, RuntimeError>;
    /// Runs a command in the session's running container and collects its output (bounded).
    async fn exec(
        &self,
        session_id: Uuid,
        request: &ExecRequest,
    ) -> Result<ExecOutput, RuntimeError>;
    /// Prepares a staged session's hand-over, so that `replace_secret` is quick (`handover`).
    async fn arm_hand_over(&self, session_id: Uuid) -> Result<(), RuntimeError>;
    /// Replaces the VNC password inside the session's container with `secret`.
    async fn replace_secret(&self, session_id: Uuid, secret: &str) -> Result<(), RuntimeError>;
    /// Puts the session network and its firewall rules in place (see `isolation`).
    async fn isolate(&self) -> Result<(), super::isolation::IsolationError>;
    /// Streams `body` (exactly `size` bytes) into the session's `~/Uploads/name` (`files`).
    async fn upload(
        &self,
        _session_id: Uuid,
        _name: &str,
        _size: u64,
        _body: crate::files::ByteStream,
    ) -> Result<u64, crate::files::FileError> {
        Err(no_files())
    }
    /// The session's `~/Downloads/name`: its size and its bytes, streamed.
    async fn download(
        &self,
        _session_id: Uuid,
        _name: &str,
    ) -> Result<(u64, crate::files::ByteStream), crate::files::FileError> {
        Err(no_files())
    }
    /// The files of the session's `~/Downloads`.
    async fn list_downloads(
        &self,
        _session_id: Uuid,
    ) -> Result<Vec<crate::files::FileEntry>, crate::files::FileError> {
        Err(no_files())
    }
}

fn no_files() -> crate::files::FileError {
    crate::files::FileError::Failed("This agent's runtime does not transfer files.".into())
}
