//! Commands run in a session's container (the Developer API's exec_command_kasm), through the
//! session's agent.
use super::Manager;
use crate::protocol::{ExecOutput, ExecRequest};
use app::AppError;
use std::time::Duration;
use uuid::Uuid;

/// How much longer than the command's own timeout the agent is given to answer.
const AGENT_GRACE: Duration = Duration::from_secs(15);

impl Manager {
    /// Runs `request` in the session's container and returns what the command did. Only a
    /// running session runs commands (Conflict otherwise).
    pub async fn exec(&self, kasm_id: Uuid, request: &ExecRequest) -> Result<ExecOutput, AppError> {
        let row = self.session_state(kasm_id).await?;
        if row.status != "running" {
            return Err(AppError::Conflict {
                field: None,
                message: format!(
                    "The session is {}; commands run only in a running session.",
                    row.status
                ),
            });
        }
        let server_id = row.agent()?;
        let body = serde_json::to_value(request).map_err(super::internal)?;
        self.call_agent_with(
            server_id,
            reqwest::Method::POST,
            &format!("/v1/sessions/{kasm_id}/exec"),
            Some(&body),
            Duration::from_secs(request.timeout_secs) + AGENT_GRACE,
        )
        .await
    }
}
