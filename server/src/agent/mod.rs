//! The agent role: runs on each Docker host, creates and controls session containers, checks
//! in with the manager, keeps wanted images present, and removes orphans.
pub mod api;
pub mod container_spec;
pub mod credential;
pub mod docker;
mod exec;
mod files;
mod files_api;
mod handover;
mod host_files;
pub(crate) use files_api::declared_length;
pub mod isolation;
pub mod ready;
pub mod runtime;
pub mod storage;
mod storage_api;
mod tunnel;
pub mod validate;

use crate::protocol::{CheckIn, CheckInReply, CreateSession, CreatedSession};
use docker::DockerRuntime;
use isolation::IsolationError;
use runtime::ContainerRuntime;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Unique name of this agent (shown as the server's hostname).
    pub name: String,
    /// Base URL of the manager (the Berth server).
    pub manager_url: String,
    /// This agent's own credential (issued in Admin → Servers, or by `berth serve` for its
    /// embedded agent): it checks in as `name` and nothing else.
    pub credential: String,
    /// Where the agent API listens.
    pub listen: SocketAddr,
    /// URL the manager uses to reach the agent API (default: from `listen`).
    pub advertise_url: Option<String>,
    pub interval: Duration,
    /// How long a session may take to start streaming.
    pub start_timeout: Duration,
    /// This process's id, sent with every check-in (a new one tells of a restart; the
    /// embedded agent's tells the manager which sessions are on its own host).
    pub instance_id: Uuid,
    /// Where profiles live and which host folders sessions may see (`storage`).
    pub storage: storage::StorageConfig,
}

pub struct Agent {
    pub config: AgentConfig,
    pub runtime: Arc<dyn ContainerRuntime>,
    /// What the manager presents to call this agent's API: random per process, sent in the
    /// check-ins, so no other agent's secret (or credential) opens this one.
    api_secret: String,
    /// Last failed pull per image, so an unreachable registry is not asked every check-in.
    pull_failures: Mutex<HashMap<String, Instant>>,
    missing: Mutex<Vec<String>>,
    /// Images the manager wants here, from the last check-in reply.
    wanted: Mutex<Vec<String>>,
    /// The owner label of this agent's containers, once the manager told its deployment id.
    owner: Mutex<Option<String>>,
    /// Why sessions are not isolated here, while they are not (see `isolation`).
    not_isolated: Mutex<Option<IsolationError>>,
}

const PULL_RETRY: Duration = Duration::from_secs(300);
/// A transfer folder without a container is a stray once this old (a launch makes its
/// container well within it).
const STRAY_AFTER: Duration = Duration::from_secs(600);

impl Agent {
    pub fn new(config: AgentConfig, runtime: Arc<dyn ContainerRuntime>) -> Arc<Agent> {
        Arc::new(Agent {
            config,
            runtime,
            api_secret: random_secret(),
            pull_failures: Mutex::default(),
            missing: Mutex::default(),
            wanted: Mutex::default(),
            owner: Mutex::default(),
            not_isolated: Mutex::new(Some(IsolationError::NotCheckedYet)),
        })
    }

    /// Whether a caller presented this agent's API secret.
    pub fn is_manager(&self, presented: &str) -> bool {
        crate::credentials::token_matches(presented, &self.api_secret)
    }

    /// Puts the session network and its firewall in place, or records why it is not.
    pub async fn ensure_isolation(&self) -> Result<(), IsolationError> {
        let result = self.runtime.isolate().await;
        let mut not_isolated = self.not_isolated.lock().await;
        match &result {
            Ok(()) if not_isolated.is_some() => {
                tracing::info!("sessions are isolated from each other and the host");
            }
            Err(error) if not_isolated.as_ref() != Some(error) => {
                tracing::error!(%error, "sessions cannot be isolated; no session starts until they can");
            }
            _ => {}
        }
        *not_isolated = result.clone().err();
        result
    }

    /// The label value marking this agent's containers (known after the first check-in).
    pub async fn owner(&self) -> Option<String> {
        self.owner.lock().await.clone()
    }

    /// Creates the container and returns once its desktop streams.
    #[tracing::instrument(name = "agent.create", skip_all, fields(session_id = %spec.session_id, image = %spec.image))]
    pub async fn create_session(
        &self,
        spec: &CreateSession,
    ) -> Result<CreatedSession, LaunchError> {
        let owner = self.owner().await.ok_or(LaunchError::NotCheckedIn)?;
        if self.not_isolated.lock().await.is_some() {
            self.ensure_isolation()
                .await
                .map_err(LaunchError::NotIsolated)?;
        }
        let began = Instant::now();
        let (container_id, port) = self.runtime.create_session(spec, &owner).await?;
        tracing::info!(container_id, took = ?began.elapsed(), "container created and started");
        match self
            .until_streaming(&container_id, port, &spec.secret)
            .await
        {
            Ok(()) => {
                if spec.staged {
                    self.arm_hand_over(spec.session_id).await;
                }
                Ok(self.created(container_id, port))
            }
            Err(reason) => {
                let _ = self.remove_session(spec.session_id).await;
                Err(LaunchError::NotStreaming(reason))
            }
        }
    }

    /// Prepares a staged session's hand-over; without it the hand-over is only slower.
    async fn arm_hand_over(&self, session_id: Uuid) {
        if let Err(error) = self.runtime.arm_hand_over(session_id).await {
            tracing::warn!(%session_id, %error, "the staged session's hand-over is not prepared; it will be slower");
        }
    }

    /// Starts a stopped session's container again and returns once its desktop streams (on
    /// the new port Docker published it on).
    #[tracing::instrument(name = "agent.start", skip_all, fields(%session_id))]
    pub async fn start_session(
        &self,
        session_id: Uuid,
        secret: &str,
    ) -> Result<CreatedSession, LaunchError> {
        self.runtime.act(session_id, runtime::Action::Start).await?;
        let (container_id, port) = self.runtime.published(session_id).await?;
        self.until_streaming(&container_id, port, secret)
            .await
            .map_err(LaunchError::NotStreaming)?;
        Ok(self.created(container_id, port))
    }

    /// A launch under way when Berth stopped: where the container streams, once it does.
    #[tracing::instrument(name = "agent.adopt", skip_all, fields(%session_id))]
    pub async fn adopt_session(
        &self,
        session_id: Uuid,
        secret: &str,
        wait: Duration,
    ) -> Result<CreatedSession, AdoptError> {
        let (container_id, port) = match self.runtime.published(session_id).await {
            Ok(found) => found,
            Err(runtime::RuntimeError::NotFound(_)) => return Err(AdoptError::NoContainer),
            Err(other) => return Err(AdoptError::Failed(other.to_string())),
        };
        if !self
            .runtime
            .is_running(&container_id)
            .await
            .map_err(|error| AdoptError::Failed(error.to_string()))?
        {
            return Err(AdoptError::Failed("the container is not running".into()));
        }
        self.until_streaming_within(&container_id, port, secret, wait)
            .await
            .map_err(AdoptError::Failed)?;
        Ok(self.created(container_id, port))
    }

    pub(crate) fn created(&self, container_id: String, port: u16) -> CreatedSession {
        CreatedSession {
            container_id,
            host: runtime::PUBLISH_ADDRESS.to_owned(),
            port,
        }
    }

    /// Waits until the container on `port` streams a desktop; fails early when it exits.
    async fn until_streaming(
        &self,
        container_id: &str,
        port: u16,
        secret: &str,
    ) -> Result<(), String> {
        self.until_streaming_within(container_id, port, secret, self.config.start_timeout)
            .await
    }

    async fn until_streaming_within(
        &self,
        container_id: &str,
        port: u16,
        secret: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let started = Instant::now();
        let runtime = self.runtime.clone();
        let id = container_id.to_owned();
        let stream_wait = ready::wait_until_streaming(port, secret, timeout, || {
            let runtime = runtime.clone();
            let id = id.clone();
            async move {
                match runtime.is_running(&id).await {
                    Ok(true) => None,
                    Ok(false) => Some(format!(
                        "the container exited: {}",
                        runtime.logs_tail(&id).await
                    )),
                    Err(error) => Some(error.to_string()),
                }
            }
        })
        .await?;
        tracing::info!(container_id, port, ?stream_wait, total = ?started.elapsed(), "session streaming");
        Ok(())
    }

    async fn report(&self, agent_url: &str) -> Result<CheckIn, runtime::RuntimeError> {
        let resources = self.runtime.resources().await?;
        // Every labelled container, from the very first check-in: the manager keeps the ones
        // of its deployment (a report without them would read as "all containers gone").
        let sessions = self.runtime.list_sessions().await?;
        let mut images_present = Vec::new();
        for name in self.wanted_images().await {
            if self.runtime.has_image(&name).await? {
                images_present.push(name);
            }
        }
        Ok(CheckIn {
            name: self.config.name.clone(),
            hostname: resources.hostname,
            agent_url: agent_url.to_owned(),
            address: runtime::PUBLISH_ADDRESS.to_owned(),
            cores: resources.cores,
            memory: resources.memory,
            gpus: gpu_count(Path::new("/dev")),
            disk_free: resources.disk_free,
            sessions,
            images_present,
            images_missing: self.missing.lock().await.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            interval_secs: self.config.interval.as_secs().max(1) as u32,
            instance_id: Some(self.config.instance_id),
            api_secret: self.api_secret.clone(),
            volume_roots: self.config.storage.reported_roots(),
        })
    }

    async fn wanted_images(&self) -> Vec<String> {
        self.wanted.lock().await.clone()
    }

    /// Removes labelled containers the manager does not know (orphans).
    pub async fn reconcile(&self, reply: &CheckInReply) {
        let owner = format!("{}@{}", self.config.name, reply.deployment_id);
        *self.owner.lock().await = Some(owner.clone());
        let sessions = match self.runtime.list_sessions().await {
            Ok(sessions) => sessions,
            Err(error) => return tracing::warn!(%error, "cannot list session containers"),
        };
        let with_containers: Vec<Uuid> = sessions.iter().map(|s| s.session_id).collect();
        for session in sessions.into_iter().filter(|s| s.owner == owner) {
            if !reply.known_sessions.contains(&session.session_id) {
                tracing::info!(session_id = %session.session_id, "removing an orphan session container");
                if let Err(error) = self.remove_session(session.session_id).await {
                    tracing::warn!(session_id = %session.session_id, %error, "could not remove an orphan");
                }
            }
        }
        self.remove_stray_transfer_folders(&with_containers).await;
    }

    /// Removes the session's container, then its transfer folders.
    pub async fn remove_session(&self, session_id: Uuid) -> Result<bool, runtime::RuntimeError> {
        let removed = self.runtime.remove_session(session_id).await?;
        let storage = self.config.storage.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            storage::remove_transfer_folder(&storage, session_id)
        })
        .await;
        if let Ok(Err(error)) = outcome {
            tracing::warn!(%session_id, %error, "could not remove a session's transfer folders");
        }
        Ok(removed)
    }

    /// Transfer folders whose container is gone (removed while the agent was down, or a
    /// launch that failed before its container was made).
    async fn remove_stray_transfer_folders(&self, with_containers: &[Uuid]) {
        let storage = self.config.storage.clone();
        let with_containers = with_containers.to_vec();
        let _ = tokio::task::spawn_blocking(move || {
            for session_id in storage::transfer_folders(&storage) {
                if !with_containers.contains(&session_id) {
                    // Made for a launch still under way? Its container is made within the
                    // start timeout; only older folders are strays.
                    if storage::transfer_folder_age(&storage, session_id)
                        .is_some_and(|age| age > STRAY_AFTER)
                    {
                        let _ = storage::remove_transfer_folder(&storage, session_id);
                    }
                }
            }
        })
        .await;
    }

    /// Pulls wanted images that are not here (when a registry serves them); the rest are
    /// reported missing. True when the manager wants other images than before: the agent then
    /// checks in again at once, so that the images it has count at placement without waiting
    /// an interval (a launch right after a start would otherwise find "image missing").
    pub async fn ensure_images(&self, wanted: &[String]) -> bool {
        let changed = {
            // As a set: the manager does not promise an order.
            let mut sorted = wanted.to_vec();
            sorted.sort();
            let mut known = self.wanted.lock().await;
            let changed = *known != sorted;
            *known = sorted;
            changed
        };
        let mut missing = Vec::new();
        for name in wanted {
            match self.runtime.has_image(name).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(image = name, %error, "cannot inspect image");
                    missing.push(name.clone());
                    continue;
                }
            }
            let recently_failed = self
                .pull_failures
                .lock()
                .await
                .get(name)
                .is_some_and(|at| at.elapsed() < PULL_RETRY);
            if recently_failed {
                missing.push(name.clone());
                continue;
            }
            tracing::info!(image = name, "pulling a missing image");
            match self.runtime.pull_image(name).await {
                Ok(()) => tracing::info!(image = name, "image pulled"),
                Err(error) => {
                    tracing::warn!(image = name, %error, "image missing and cannot be pulled; build it with `berth images build`");
                    self.pull_failures
                        .lock()
                        .await
                        .insert(name.clone(), Instant::now());
                    missing.push(name.clone());
                }
            }
        }
        *self.missing.lock().await = missing;
        changed
    }

    async fn check_in(
        &self,
        http: &reqwest::Client,
        agent_url: &str,
    ) -> Result<CheckInReply, String> {
        let report = self
            .report(agent_url)
            .await
            .map_err(|error| error.to_string())?;
        let response = http
            .post(format!(
                "{}/api/agent/checkin",
                self.config.manager_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.config.credential)
            .json(&report)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|error| format!("manager {} unreachable: {error}", self.config.manager_url))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("manager refused the check-in ({status}): {body}"));
        }
        response
            .json()
            .await
            .map_err(|error| format!("bad check-in reply: {error}"))
    }
}

/// Why a session's desktop could not be started (created, or a stopped one started again):
/// each kind answered with its own status (`api::launch_error`), not one for all.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// No check-in yet: the agent does not know its deployment, so cannot label containers.
    #[error("the agent has not checked in yet")]
    NotCheckedIn,
    #[error("sessions are not started without their network isolation: {0}")]
    NotIsolated(IsolationError),
    /// What the container runtime refused or failed at (image missing, Docker down...).
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    /// The container started but its desktop never answered (the container was removed).
    #[error("{0}")]
    NotStreaming(String),
}

/// Why a launch could not be taken over.
#[derive(Debug)]
pub enum AdoptError {
    NoContainer,
    Failed(String),
}

/// Why `berth agent` could not start.
#[derive(Debug, thiserror::Error)]
#[error("the agent cannot listen on {address}: {error}")]
pub struct ListenError {
    address: SocketAddr,
    error: std::io::Error,
}

/// Runs an agent until the process ends: the API server and the check-in loop.
pub async fn run(mut config: AgentConfig) -> Result<(), ListenError> {
    // A few file system calls, once at start.
    config.storage = storage::with_usable_transfer_root(config.storage);
    let address = config.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| ListenError { address, error })?;
    let bound = listener
        .local_addr()
        .map_err(|error| ListenError { address, error })?;
    let agent_url = config
        .advertise_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let runtime = connect_docker_with_retry(config.interval).await;
    let agent = Agent::new(config, runtime);
    let _ = agent.ensure_isolation().await;
    tracing::info!(name = agent.config.name, %agent_url, manager = agent.config.manager_url, "agent started");
    let router = api::router(agent.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the agent API stopped");
        }
    });
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(agent.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        // A firewall reload or a removed network is repaired here.
        let _ = agent.ensure_isolation().await;
        match agent.check_in(&http, &agent_url).await {
            Ok(reply) => {
                if failing {
                    tracing::info!("check-ins are accepted again");
                    failing = false;
                }
                agent.reconcile(&reply).await;
                if agent.ensure_images(&reply.wanted_images).await {
                    tick.reset_immediately();
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "check-in failed; retrying every interval");
                    failing = true;
                }
            }
        }
    }
}

/// Docker may be starting or down: say so clearly and keep trying.
async fn connect_docker_with_retry(interval: Duration) -> Arc<dyn ContainerRuntime> {
    let mut warned = false;
    loop {
        match DockerRuntime::connect().await {
            Ok(runtime) => {
                if warned {
                    tracing::info!("Docker is reachable again");
                }
                return Arc::new(runtime);
            }
            Err(error) => {
                if !warned {
                    tracing::error!(%error, "the agent needs Docker (is dockerd running? ./scripts/run starts it); retrying");
                    warned = true;
                }
                tokio::time::sleep(interval).await;
            }
        }
    }
}

/// 256 random bits, URL-safe.
fn random_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// NVIDIA GPUs on this host: the driver's device nodes `/dev/nvidia0`, `/dev/nvidia1`, …
/// (not nvidiactl, nvidia-uvm and the like).
pub fn gpu_count(dev: &Path) -> i32 {
    let Ok(entries) = std::fs::read_dir(dev) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("nvidia")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpus_are_counted_from_the_driver_device_nodes() {
        let dev = std::env::temp_dir().join(format!("berth-dev-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dev).unwrap();
        assert_eq!(gpu_count(&dev), 0);
        for name in [
            "nvidia0",
            "nvidia1",
            "nvidiactl",
            "nvidia-uvm",
            "nvidia-modeset",
            "null",
        ] {
            std::fs::write(dev.join(name), "").unwrap();
        }
        assert_eq!(gpu_count(&dev), 2);
        std::fs::remove_dir_all(&dev).unwrap();
        assert_eq!(gpu_count(&dev), 0, "a missing /dev counts none");
    }
}
