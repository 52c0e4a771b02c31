//! The manager role: the registry of agents, placement of new sessions, every session's
//! state from request to deletion, keepalive, expiry and reaping. It is the only writer of a
//! session's status (through `state::apply`); the other roles ask it, and it answers with
//! `berth_model::ControlError` (the web app reaches it through `berth_model::SessionControl`).
//! Its data is read and written through the store (`store::sessions`, `store::agents`,
//! `store::replicas`).
//!
//! - `launch`: requests, placement (queued, never failing under bursts) and supervised launches
//! - `lifecycle`: pause, stop, resume, destroy, keepalive
//! - `recovery`: launches left under way by a replica that stopped
//! - `jobs`: the periodic work (offline marking, reaper, recovery) under a lease, so that of
//!   several replicas one runs it
//! - `checkin` + `reports`: agents' check-ins and what they say about each session
//! - `state`: the session state machine
//! - `staging`: the warm pool (sessions started ahead of demand, handed over at launch)
pub mod agent_client;
pub mod checkin;
mod exec;
pub mod files;
pub mod images;
mod jobs;
mod launch;
mod lifecycle;
pub mod placement;
pub mod presence;
pub mod profiles;
mod recovery;
pub mod reports;
pub mod staging;
pub mod state;
mod status_wait;
mod stream;

use agent_client::{AgentClient, AgentRef, HttpAgentClient};
use berth_model::{ControlError, SessionChange, SessionControl};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::sessions::Controlled;
use uuid::Uuid;

pub use launch::LaunchOptions;

/// Status changes a slow waiter may fall behind by before it simply looks again.
const STATUS_CHANGES_KEPT: usize = 256;

#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// How long a launch may take from the agent's start of it to a streaming desktop.
    pub launch_timeout: Duration,
    /// How often the periodic jobs run.
    pub sweep_interval: Duration,
    /// Containers one agent creates at once; further launches wait their turn (queued, in
    /// state provisioning) instead of overloading the host.
    pub launches_per_agent: usize,
}

pub struct Manager {
    db: PgPool,
    agents: Arc<dyn AgentClient>,
    config: ManagerConfig,
    /// This process among the deployment's replicas (`replicas` table).
    replica_id: Uuid,
    /// One placement at a time in this process: launches queue here, holding no database
    /// connection while they wait (the advisory lock then orders replicas).
    placement_gate: tokio::sync::Mutex<()>,
    /// One tending of the staging pool at a time in this process.
    pool_gate: tokio::sync::Mutex<()>,
    /// Per agent, the launches it may run at once.
    launch_slots: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Semaphore>>>,
    /// The instance id of the agent embedded in this process, if any: its sessions' ports
    /// are on this host's loopback; other agents' are reached through them.
    local_agent: std::sync::OnceLock<Uuid>,
    /// Where agents' check-in times are kept (Redis), once the server is assembled; without
    /// it (unit tests) every check-in time is kept on the agent's row.
    presence: std::sync::OnceLock<presence::AgentPresence>,
    /// The sessions whose status this process changed, as they change: status polls held
    /// while a session starts wake on them (`status_wait`).
    status_changes: tokio::sync::broadcast::Sender<Uuid>,
}

fn internal(error: impl std::fmt::Display) -> ControlError {
    ControlError::Internal(error.to_string())
}

impl Manager {
    pub fn new(db: PgPool, config: ManagerConfig) -> Arc<Manager> {
        let agents = Arc::new(HttpAgentClient::new());
        Manager::with_agent_client(db, config, agents)
    }

    /// A manager that reaches agents through `agents` (a fake in tests).
    pub fn with_agent_client(
        db: PgPool,
        config: ManagerConfig,
        agents: Arc<dyn AgentClient>,
    ) -> Arc<Manager> {
        Arc::new(Manager {
            db,
            agents,
            config,
            replica_id: Uuid::new_v4(),
            placement_gate: tokio::sync::Mutex::new(()),
            pool_gate: tokio::sync::Mutex::new(()),
            launch_slots: std::sync::Mutex::default(),
            local_agent: std::sync::OnceLock::new(),
            presence: std::sync::OnceLock::new(),
            status_changes: tokio::sync::broadcast::channel(STATUS_CHANGES_KEPT).0,
        })
    }

    /// Keeps agents' check-in times in `presence` from now on (set once, at assembly).
    pub fn keep_presence(&self, presence: presence::AgentPresence) {
        let _ = self.presence.set(presence);
    }

    pub fn presence(&self) -> Option<&presence::AgentPresence> {
        self.presence.get()
    }

    pub fn db(&self) -> &PgPool {
        &self.db
    }

    pub fn replica_id(&self) -> Uuid {
        self.replica_id
    }

    async fn agent_of(&self, server_id: Uuid) -> Result<AgentRef, ControlError> {
        Ok(self.agent_with_instance(server_id).await?.0)
    }

    /// The agent and the instance id of its process (as of its last check-in).
    async fn agent_with_instance(
        &self,
        server_id: Uuid,
    ) -> Result<(AgentRef, Option<Uuid>), ControlError> {
        let address = store::agents::address(&self.db, server_id)
            .await?
            .ok_or_else(|| {
                ControlError::NotFound("The session's agent is no longer registered.".into())
            })?;
        let agent = AgentRef {
            url: address.url,
            hostname: address.hostname,
            secret: address.api_secret,
        };
        Ok((agent, address.instance))
    }

    /// The session's agent, state and secret, as the controls need them.
    async fn session_state(&self, session_id: Uuid) -> Result<Controlled, ControlError> {
        store::sessions::controlled(&self.db, session_id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("No session {session_id}.")))
    }

    /// Applies a transition; false when the session's state no longer allows it.
    async fn transition(
        &self,
        session_id: Uuid,
        transition: &state::Transition,
    ) -> Result<bool, ControlError> {
        let applied = state::apply(&self.db, session_id, transition).await?;
        self.announce(session_id, applied);
        Ok(applied)
    }

    /// Applies a transition that records what already happened to a container (it streams,
    /// it failed): a database outage must not lose it, so it is retried for a while.
    async fn record(&self, session_id: Uuid, transition: &state::Transition) -> bool {
        let mut delay = Duration::from_millis(200);
        for _ in 0..40 {
            match state::apply(&self.db, session_id, transition).await {
                Ok(applied) => {
                    self.announce(session_id, applied);
                    return applied;
                }
                Err(error) => {
                    tracing::warn!(%session_id, %error, "cannot record the session's state yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::error!(%session_id, ?transition, "gave up recording the session's state; recovery will take it over");
        false
    }
}

/// The agent the session was placed on.
fn placed_on(session: &Controlled) -> Result<Uuid, ControlError> {
    session
        .server_id
        .ok_or_else(|| ControlError::Unavailable("The session has no agent.".into()))
}

/// The app reaches the manager through this trait.
pub struct ManagerHandle(pub Arc<Manager>);

#[async_trait::async_trait]
impl SessionControl for ManagerHandle {
    async fn request(&self, user_id: Uuid, image_id: Uuid) -> Result<Uuid, ControlError> {
        self.0.request_session(user_id, image_id).await
    }

    async fn destroy(&self, session_id: Uuid) -> Result<(), ControlError> {
        self.0.destroy_session(session_id, "Deleted.").await
    }

    async fn change(&self, session_id: Uuid, change: SessionChange) -> Result<(), ControlError> {
        self.0.change_session(session_id, change).await
    }

    async fn keepalive(&self, session_id: Uuid) -> Result<(), ControlError> {
        self.0.keepalive(session_id).await
    }

    async fn request_with_profile(
        &self,
        user_id: Uuid,
        image_id: Uuid,
        mode: berth_model::ProfileMode,
    ) -> Result<Uuid, ControlError> {
        let options = LaunchOptions {
            profile_mode: mode,
            ..LaunchOptions::default()
        };
        self.0
            .request_session_with(user_id, image_id, options)
            .await
    }

    async fn delete_profiles(&self, user_id: Uuid) -> Result<usize, ControlError> {
        self.0.delete_profiles_of(user_id).await
    }

    async fn until_status_leaves(
        &self,
        session_id: Uuid,
        seen: berth_model::SessionStatus,
        within: Duration,
    ) {
        self.0.until_status_leaves(session_id, seen, within).await
    }
}
