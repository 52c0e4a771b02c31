//! Pausing, stopping and resuming a session's container through its agent.
use super::{db, Manager};
use crate::protocol::{CreatedSession, StartSession};
use app::model::SessionChange;
use app::AppError;
use uuid::Uuid;

impl Manager {
    /// Applies `change` to a live session. Asking for the state it is already in is not an
    /// error; asking what its state does not allow (e.g. pausing a stopped session) is.
    pub async fn change_session(
        &self,
        kasm_id: Uuid,
        change: SessionChange,
    ) -> Result<(), AppError> {
        let row = self.session_state(kasm_id).await?;
        let status = row.status.as_str();
        let server_id = row.agent()?;
        let path = |action: &str| format!("/v1/sessions/{kasm_id}/{action}");
        match (change, status) {
            (SessionChange::Pause, "paused")
            | (SessionChange::Stop, "stopped")
            | (SessionChange::Resume, "running") => Ok(()),
            (SessionChange::Pause, "running") => {
                self.call_agent(server_id, reqwest::Method::POST, &path("pause"))
                    .await?;
                self.set_state(kasm_id, &["running"], "paused", "Paused", 100)
                    .await?;
                Ok(())
            }
            (SessionChange::Stop, "running" | "paused") => {
                self.call_agent(server_id, reqwest::Method::POST, &path("stop"))
                    .await?;
                self.set_state(kasm_id, &["running", "paused"], "stopped", "Stopped", 100)
                    .await?;
                Ok(())
            }
            (SessionChange::Resume, "paused") => {
                self.call_agent(server_id, reqwest::Method::POST, &path("resume"))
                    .await?;
                self.set_state(kasm_id, &["paused"], "running", "Running", 100)
                    .await?;
                Ok(())
            }
            (SessionChange::Resume, "stopped") => {
                self.start_stopped(kasm_id, server_id, row.secret).await
            }
            (change, other) => Err(AppError::Invalid {
                field: None,
                message: format!("The session is {other}; it cannot be {}.", done(change)),
            }),
        }
    }

    /// Starts a stopped session's container and records where it streams now (Docker
    /// publishes it on a new port). On failure the session stays stopped, saying why.
    async fn start_stopped(
        &self,
        kasm_id: Uuid,
        server_id: Uuid,
        secret: String,
    ) -> Result<(), AppError> {
        if !self
            .set_state(
                kasm_id,
                &["stopped"],
                "starting",
                "Starting the desktop again",
                50,
            )
            .await?
        {
            return Err(AppError::Conflict {
                field: None,
                message: "The session changed meanwhile; try again.".into(),
            });
        }
        let body = serde_json::to_value(StartSession { secret }).map_err(super::internal)?;
        let started: Result<CreatedSession, AppError> = self
            .call_agent_with(
                server_id,
                reqwest::Method::POST,
                &format!("/v1/sessions/{kasm_id}/start"),
                Some(&body),
                self.config.launch_timeout,
            )
            .await;
        match started {
            Ok(created) => {
                sqlx::query!(
                    r#"UPDATE kasms SET operational_status = 'running', operational_message = 'Running',
                                        operational_progress = 100, container_id = $2, hostname = $3,
                                        port = $4, keepalive_date = now()
                       WHERE kasm_id = $1 AND operational_status = 'starting'"#,
                    kasm_id,
                    created.container_id,
                    created.host,
                    i32::from(created.port),
                )
                .execute(&self.db)
                .await
                .map_err(db)?;
                Ok(())
            }
            Err(error) => {
                let message = format!("Could not start again: {error}");
                self.set_state(kasm_id, &["starting"], "stopped", &message, 100)
                    .await?;
                Err(error)
            }
        }
    }
}

/// "paused", "stopped", "resumed": for messages.
fn done(change: SessionChange) -> &'static str {
    match change {
        SessionChange::Pause => "paused",
        SessionChange::Stop => "stopped",
        SessionChange::Resume => "resumed",
    }
}
