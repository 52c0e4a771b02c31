//! Before the proxy connects a browser to a session's stream: is the container at the
//! recorded port still the session's own? Docker gives a port to another container after a
//! restart; the agent, which asks Docker by the session's label, says which container is the
//! session's and where it streams, and the proxy connects only when both match the row.
use super::Manager;
use app::AppError;
use uuid::Uuid;

impl Manager {
    /// Ok when the session's container is `container_id` and streams on `port`.
    pub async fn verify_stream(
        &self,
        kasm_id: Uuid,
        container_id: &str,
        port: u16,
    ) -> Result<(), AppError> {
        let row = self.session_state(kasm_id).await?;
        // A row that no agent ever started (bench/proxy points one at an echo server) has
        // nobody to ask.
        let Some(server_id) = row.server_id else {
            return Ok(());
        };
        let agent = self.agent_of(server_id).await?;
        let now = self.agents.endpoint(&agent, kasm_id).await?;
        if now.container_id == container_id && now.port == port {
            return Ok(());
        }
        tracing::warn!(%kasm_id, recorded = container_id, port, current = now.container_id, current_port = now.port,
            "the session's recorded stream is not its container's; refusing to connect");
        Err(AppError::Conflict {
            field: None,
            message: "The session's desktop moved; try again in a few seconds.".into(),
        })
    }
}
