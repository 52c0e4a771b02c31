//! A session's stream, for the proxy and for screenshots. Session ports listen on their
//! agent host's loopback only: a session on this process's own agent is reached there
//! directly, once the agent confirmed that the container on the recorded port is still the
//! session's (Docker gives a port to another container after a restart); a session on any
//! other agent is reached through that agent's authenticated tunnel, which makes the same
//! check. Either way the bytes are the container's RFB, before authentication.
use super::Manager;
use crate::rfb::ByteStream;
use berth_model::ControlError;
use uuid::Uuid;

/// How long connecting to a session port on this host may take.
const CONNECT: std::time::Duration = std::time::Duration::from_secs(5);

impl Manager {
    /// Records the instance id of the agent running inside this process.
    pub fn set_local_agent(&self, instance: Uuid) {
        let _ = self.local_agent.set(instance);
    }

    /// A byte stream to the session's RFB port, when its container is still `container_id`
    /// (recorded as streaming on `host`:`port`).
    #[tracing::instrument(name = "manager.open_stream", skip_all, fields(%session_id))]
    pub async fn open_stream(
        &self,
        session_id: Uuid,
        container_id: &str,
        host: &str,
        port: u16,
    ) -> Result<Box<dyn ByteStream>, ControlError> {
        let row = self.session_state(session_id).await?;
        // A row that no agent ever started (bench/proxy points one at a stand-in server) has
        // nobody to ask.
        let Some(server_id) = row.server_id else {
            return connect(host, port).await;
        };
        let (agent, instance) = self.agent_with_instance(server_id).await?;
        if instance.is_none() || instance != self.local_agent.get().copied() {
            return Ok(self.agents.tunnel(&agent, session_id, container_id).await?);
        }
        let now = self.agents.endpoint(&agent, session_id).await?;
        if now.container_id != container_id || now.port != port {
            tracing::warn!(%session_id, recorded = container_id, port, current = now.container_id, current_port = now.port,
                "the session's recorded stream is not its container's; refusing to connect");
            return Err(super::agent_client::moved());
        }
        connect(host, port).await
    }
}

async fn connect(host: &str, port: u16) -> Result<Box<dyn ByteStream>, ControlError> {
    let unreachable = |reason: String| {
        tracing::warn!(host, port, reason, "session port unreachable");
        ControlError::Unavailable("The session's desktop is not answering.".into())
    };
    let stream = tokio::time::timeout(CONNECT, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|error| unreachable(error.to_string()))?;
    let _ = stream.set_nodelay(true);
    Ok(Box::new(stream))
}
