//! Commands run in a session's container (the Developer API's exec_command_kasm), through the
//! session's agent.
use super::Manager;
use crate::protocol::{ExecOutput, ExecRequest};
use berth_model::{ControlError, SessionStatus};
use std::time::Duration;
use uuid::Uuid;

/// How much longer than the command's own timeout the agent is given to answer.
const AGENT_GRACE: Duration = Duration::from_secs(15);

impl Manager {
    /// Runs `request` in the session's container and returns what the command did. Only a
    /// running session runs commands (Conflict otherwise).
    #[tracing::instrument(name = "manager.exec", skip_all, fields(%session_id))]
    pub async fn exec(
        &self,
        session_id: Uuid,
        request: &ExecRequest,
    ) -> Result<ExecOutput, ControlError> {
        let row = self.session_state(session_id).await?;
        if row.status != SessionStatus::Running {
            return Err(ControlError::Conflict(format!(
                "The session is {}; commands run only in a running session.",
                row.status
            )));
        }
        let agent = self.agent_of(super::placed_on(&row)?).await?;
        let timeout = Duration::from_secs(request.timeout_secs) + AGENT_GRACE;
        Ok(self
            .agents
            .exec(&agent, session_id, request, timeout)
            .await?)
    }
}
