//! A live session's controls: pause, stop, resume (start again), destroy, keepalive.
use super::agent_client::ContainerAction;
use super::launch::endpoint;
use super::state::Transition;
use super::{placed_on, Manager};
use berth_model::{ControlError, SessionChange, SessionStatus};
use uuid::Uuid;

impl Manager {
    /// Applies `change` to a live session. Asking for the state it is already in is not an
    /// error; asking what its state does not allow (e.g. pausing a stopped session) is.
    #[tracing::instrument(name = "manager.change", skip_all, fields(%session_id))]
    pub async fn change_session(
        &self,
        session_id: Uuid,
        change: SessionChange,
    ) -> Result<(), ControlError> {
        use SessionStatus::{Paused, Running, Stopped};
        let row = self.session_state(session_id).await?;
        let (action, transition) = match (change, row.status) {
            (SessionChange::Pause, Paused)
            | (SessionChange::Stop, Stopped)
            | (SessionChange::Resume, Running) => return Ok(()),
            (SessionChange::Pause, Running) => (ContainerAction::Pause, Transition::Pause),
            (SessionChange::Stop, Running | Paused) => (ContainerAction::Stop, Transition::Stop),
            (SessionChange::Resume, Paused) => (ContainerAction::Resume, Transition::Unpause),
            (SessionChange::Resume, Stopped) => {
                return self
                    .start_stopped(session_id, placed_on(&row)?, row.secret)
                    .await
            }
            (change, other) => {
                return Err(ControlError::Invalid {
                    field: None,
                    message: format!("The session is {other}; it cannot be {}.", done(change)),
                })
            }
        };
        let agent = self.agent_of(placed_on(&row)?).await?;
        self.agents.act(&agent, session_id, action).await?;
        // Not applied only when a check-in saw the container's new state first.
        self.transition(session_id, &transition).await?;
        Ok(())
    }

    /// Starts a stopped session's container and records where it streams now (Docker
    /// publishes it on a new port). On failure the session stays stopped, saying why.
    async fn start_stopped(
        &self,
        session_id: Uuid,
        server_id: Uuid,
        secret: String,
    ) -> Result<(), ControlError> {
        if !self.transition(session_id, &Transition::StartAgain).await? {
            return Err(ControlError::Conflict(
                "The session changed meanwhile; try again.".into(),
            ));
        }
        store::sessions::set_supervisor(&self.db, session_id, self.replica_id).await?;
        let started = match self.agent_of(server_id).await {
            Ok(agent) => self
                .agents
                .start(&agent, session_id, &secret, self.config.launch_timeout)
                .await
                .map_err(ControlError::from),
            Err(error) => Err(error),
        };
        match started {
            Ok(created) => {
                self.record(session_id, &Transition::Streaming(endpoint(created)))
                    .await;
                Ok(())
            }
            Err(error) => {
                self.record(session_id, &Transition::StartFailed(error.to_string()))
                    .await;
                Err(error)
            }
        }
    }

    /// Destroys a session: deleting, container removed, deleted. An unreachable agent does not
    /// keep the session alive: the agent removes the orphan when it checks in again.
    #[tracing::instrument(name = "manager.destroy", skip_all, fields(%session_id))]
    pub async fn destroy_session(
        &self,
        session_id: Uuid,
        reason: &str,
    ) -> Result<(), ControlError> {
        let row = self.session_state(session_id).await?;
        if row.status == SessionStatus::Deleted {
            return Ok(());
        }
        self.transition(session_id, &Transition::Deleting).await?;
        if let Some(server_id) = row.server_id {
            self.remove_quietly(server_id, session_id).await;
        }
        self.transition(session_id, &Transition::Ended(reason.to_owned()))
            .await?;
        Ok(())
    }

    /// Pushes the session's expiration forward by its owner's keepalive_expiration, never past
    /// their session_time_limit from its creation.
    pub async fn keepalive(&self, session_id: Uuid) -> Result<(), ControlError> {
        let not_live = || ControlError::NotFound(format!("No live session {session_id}."));
        let owner = store::sessions::owner_of(&self.db, session_id)
            .await?
            .ok_or_else(not_live)?;
        let policy = store::group_access::policy_of(&self.db, owner).await?;
        let window = policy.number(store::policy::KEEPALIVE_EXPIRATION);
        let limit = policy.number(store::policy::SESSION_TIME_LIMIT);
        if !store::sessions::keep_alive(&self.db, session_id, window, limit).await? {
            return Err(ControlError::NotFound(format!(
                "No live session {session_id}."
            )));
        }
        Ok(())
    }

    /// Destroys sessions whose expiration date has passed.
    pub async fn reap_expired(&self) {
        let expired = store::sessions::expired(&self.db).await;
        match expired {
            Ok(ids) => {
                for session_id in ids {
                    tracing::info!(%session_id, "session expired; destroying it");
                    if let Err(error) = self
                        .destroy_session(session_id, "The session expired.")
                        .await
                    {
                        tracing::warn!(%session_id, %error, "could not destroy an expired session");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "reaper could not list expired sessions"),
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
