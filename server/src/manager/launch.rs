//! New sessions: the request (checked, placed and recorded in one short transaction) and the
//! supervised launch that follows it.
//!
//! Bursts queue instead of failing: requests wait for the in-process placement gate without
//! holding a database connection, and the one placing holds a single connection for its
//! transaction (the advisory lock orders replicas; candidates are read on the same
//! connection). After placement, launches wait for one of their agent's launch slots in
//! state provisioning ("Queued on …"); the launch spec is kept in the row until the
//! container starts, so a queued launch survives a restart of Berth (`recovery`).
use super::placement::{self, Candidate};
use super::state::{Endpoint, Transition};
use super::{internal, Manager};
use crate::protocol::{CreateSession, CreatedSession};
use berth_model::ControlError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::sessions::placement::{AgentLoad, NewSession, Placement};
use tracing::Instrument;
use uuid::Uuid;

/// Extras of a launch requested through the Developer API.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// Variables for the container: they add to and override the image's run_config
    /// environment (Berth's own BERTH_* variables still win).
    pub environment: serde_json::Map<String, serde_json::Value>,
    /// The first page of a browser workspace.
    pub start_url: Option<String>,
    /// What to do with the user's persistent profile (request_kasm's persistent_profile_mode).
    pub profile_mode: berth_model::ProfileMode,
}

/// Everything a launch needs besides the session's row (kept in `sessions.launch_spec`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LaunchSpec {
    /// Specs recorded before sessions were called sessions inside Berth name it `kasm_id`.
    #[serde(alias = "kasm_id")]
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub image: String,
    /// The image's name as users see it (the launch metrics' label); empty in the specs of
    /// launches recorded before it was kept.
    #[serde(default)]
    pub image_name: String,
    pub cores: f64,
    pub memory: i64,
    pub network_mode: String,
    pub run_config: serde_json::Value,
    pub start_url: Option<String>,
    pub server_id: Uuid,
    /// The staging config of a staged session (nobody's: `user_id` is then nil).
    #[serde(default)]
    pub staging_config_id: Option<Uuid>,
    /// The profile and volume mappings (`profiles::plan`); none in older specs.
    #[serde(default)]
    pub storage: crate::protocol::SessionStorage,
}

impl Manager {
    /// Places and records a new session, then launches it under supervision.
    pub async fn request_session(
        self: &Arc<Self>,
        user_id: Uuid,
        image_id: Uuid,
    ) -> Result<Uuid, ControlError> {
        self.request_session_with(user_id, image_id, LaunchOptions::default())
            .await
    }

    /// As `request_session`, with what the Developer API's request_kasm may add.
    #[tracing::instrument(name = "manager.request", skip_all, fields(%user_id, %image_id))]
    pub async fn request_session_with(
        self: &Arc<Self>,
        user_id: Uuid,
        image_id: Uuid,
        options: LaunchOptions,
    ) -> Result<Uuid, ControlError> {
        let image = store::sessions::placement::launch_image(&self.db, image_id)
            .await?
            .ok_or_else(|| {
                ControlError::NotFound(format!("No workspace image {image_id} is registered."))
            })?;
        if !image.enabled {
            return Err(ControlError::invalid(
                "image_id",
                "That workspace is disabled.",
            ));
        }
        if !store::group_access::may_use_image(&self.db, user_id, image_id).await? {
            return Err(ControlError::NotAllowed(format!(
                "You may not launch the workspace {}: it is not assigned to any of your groups.",
                image.friendly_name
            )));
        }
        let policy = store::group_access::policy_of(&self.db, user_id).await?;
        let limit = policy.number(store::policy::MAX_KASMS_PER_USER);
        let lifetime = initial_lifetime(&policy, &store::settings::load(&self.db).await?);
        let storage =
            super::profiles::plan(self, user_id, image_id, &policy, options.profile_mode).await?;
        // A staged container has none of its owner's mounts: a launch with any starts cold.
        let needs = super::staging::fit::LaunchNeeds {
            environment: !options.environment.is_empty(),
            start_url: options.start_url.is_some(),
            persistent_profile: storage.profile.is_some(),
            user_volume_mappings: !storage.volumes.is_empty(),
        };
        let handed = self
            .take_staged(user_id, image_id, &needs, limit, lifetime)
            .await?;
        if let Some(session_id) = handed {
            return Ok(session_id);
        }
        let restrict = image.only_on;
        let mut spec = LaunchSpec {
            session_id: Uuid::new_v4(),
            user_id,
            image_id,
            image: image.name,
            image_name: image.friendly_name,
            cores: image.cores,
            memory: image.memory,
            network_mode: image.network_mode,
            run_config: with_environment(image.run_config, options.environment),
            start_url: options.start_url,
            server_id: Uuid::nil(),
            staging_config_id: None,
            storage,
        };
        let host = self.place(&mut spec, limit, lifetime, restrict).await?;
        tracing::info!(session_id = %spec.session_id, %user_id, image = spec.image, host, "session placed");
        let session_id = spec.session_id;
        self.supervise(spec);
        Ok(session_id)
    }

    /// Chooses the agent and records the session (provisioning), all under the placement
    /// lock so two launches cannot both take the last free capacity. Returns the host name.
    /// `limit` is the user's most sessions; for a staged session (`spec.staging_config_id`,
    /// a row without owner) it is the pool's desired size, checked here so that replicas
    /// tending the pool at once never stage more than it.
    pub(super) async fn place(
        &self,
        spec: &mut LaunchSpec,
        limit: i64,
        lifetime: i64,
        restrict: Option<Uuid>,
    ) -> Result<String, ControlError> {
        let _turn = self.placement_gate.lock().await;
        let mut placement = Placement::begin(&self.db).await?;
        let staged = spec.staging_config_id.is_some();
        match spec.staging_config_id {
            Some(config_id) if placement.serving_staged(config_id).await? >= limit => {
                return Err(ControlError::Conflict("The staging pool is full.".into()));
            }
            Some(_) => {}
            None => check_limit(placement.live_count_of_user(spec.user_id).await?, limit)?,
        }
        let mut candidates = candidates(placement.agent_loads().await?, &spec.image, restrict);
        if let Some(profile_path) = &spec.storage.profile {
            let holders = placement.profile_hosts(profile_path, spec.user_id).await?;
            for candidate in &mut candidates {
                candidate.holds_profile = holders.contains(&candidate.server_id);
            }
        }
        spec.server_id = placement::choose(&candidates, spec.cores, spec.memory)
            .map_err(|no_capacity| ControlError::Unavailable(no_capacity.to_string()))?;
        let host = candidates
            .iter()
            .find(|c| c.server_id == spec.server_id)
            .map(|c| c.hostname.clone())
            .unwrap_or_default();
        let message = match staged {
            true => format!("Staging on {host}"),
            false => format!("Queued on {host}"),
        };
        let session = NewSession {
            session_id: spec.session_id,
            user_id: (!staged).then_some(spec.user_id),
            staging_config_id: spec.staging_config_id,
            image_id: spec.image_id,
            server_id: spec.server_id,
            secret: &session_secret(),
            message: &message,
            cores: spec.cores,
            memory: spec.memory,
            lifetime_secs: lifetime,
            supervisor: self.replica_id,
            launch_spec: serde_json::to_value(&*spec).map_err(internal)?,
        };
        if let Some(profile_path) = &spec.storage.profile {
            let claim = store::profiles::ProfileClaim {
                session_id: spec.session_id,
                user_id: spec.user_id,
                image_id: spec.image_id,
                server_id: spec.server_id,
                profile_path,
            };
            placement
                .claim_profile(&claim)
                .await?
                .map_err(super::profiles::refused)?;
        }
        placement.insert_and_commit(session).await?;
        Ok(host)
    }

    /// Runs the launch in the background, in a span of its own.
    pub(super) fn supervise(self: &Arc<Self>, spec: LaunchSpec) {
        let manager = Arc::clone(self);
        let span =
            tracing::info_span!("launch", session_id = %spec.session_id, image = %spec.image);
        let started = std::time::Instant::now();
        tokio::spawn(
            async move {
                let image = if spec.image_name.is_empty() {
                    spec.image.clone()
                } else {
                    spec.image_name.clone()
                };
                let outcome = manager.launch(spec).await;
                count_launch(&image, outcome, started.elapsed());
            }
            .instrument(span),
        );
    }

    /// Waits for a launch slot on the agent, then has the agent create the container and
    /// records where it streams. A failure ends the session with the reason and removes
    /// whatever the agent created.
    async fn launch(&self, spec: LaunchSpec) -> LaunchOutcome {
        let slots = self.launch_slots(spec.server_id);
        let slot = match spec.staging_config_id {
            // Staged launches never queue ahead of users' nor take an agent's last free slot.
            Some(_) => {
                Some(super::staging::spare_slot(&slots, self.config.launches_per_agent).await)
            }
            None => slots.acquire_owned().await.ok(),
        };
        let Some(_slot) = slot else {
            return LaunchOutcome::Abandoned;
        };
        let session_id = spec.session_id;
        match self.create_container(&spec).await {
            Ok(Some(created)) => {
                let streaming = Transition::Streaming(endpoint(created));
                if self.record(session_id, &streaming).await {
                    return LaunchOutcome::Running;
                }
                if self.is_over(session_id).await {
                    // Deleted while starting: do not leave the container behind.
                    self.remove_quietly(spec.server_id, session_id).await;
                    return LaunchOutcome::Deleted;
                }
                LaunchOutcome::Abandoned
            }
            Ok(None) => LaunchOutcome::Deleted, // deleted before it started
            Err(error) => {
                tracing::warn!(%session_id, %error, "launch failed");
                self.remove_quietly(spec.server_id, session_id).await;
                self.record(session_id, &Transition::LaunchFailed(error.to_string()))
                    .await;
                LaunchOutcome::Failed(failure_reason(&error))
            }
        }
    }

    /// provisioning → starting, then the agent's create; None when the session was deleted
    /// before its turn came.
    async fn create_container(
        &self,
        spec: &LaunchSpec,
    ) -> Result<Option<CreatedSession>, ControlError> {
        let agent = self.agent_of(spec.server_id).await?;
        let secret = store::sessions::secret_of(&self.db, spec.session_id).await?;
        let starting = Transition::Starting {
            host: agent.hostname.clone(),
        };
        if !self.transition(spec.session_id, &starting).await? {
            return Ok(None);
        }
        let request = CreateSession {
            session_id: spec.session_id,
            user_id: spec.user_id,
            image_id: spec.image_id,
            image: spec.image.clone(),
            cores: spec.cores,
            memory: spec.memory,
            network_mode: spec.network_mode.clone(),
            secret,
            run_config: spec.run_config.clone(),
            start_url: spec.start_url.clone(),
            storage: spec.storage.clone(),
            staged: spec.staging_config_id.is_some(),
        };
        let created = self
            .agents
            .create(&agent, &request, self.config.launch_timeout)
            .await?;
        Ok(Some(created))
    }

    /// Whether the session is being deleted or gone (not merely moved on by someone else,
    /// e.g. a replica that took the launch over).
    async fn is_over(&self, session_id: Uuid) -> bool {
        match self.session_state(session_id).await {
            Ok(row) => row.status.is_over(),
            Err(ControlError::NotFound(_)) => true,
            Err(_) => false,
        }
    }

    fn launch_slots(&self, server_id: Uuid) -> Arc<tokio::sync::Semaphore> {
        let mut slots = self.launch_slots.lock().expect("never poisoned");
        slots
            .entry(server_id)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    self.config.launches_per_agent.max(1),
                ))
            })
            .clone()
    }

    /// Removes a session's container, logging (not failing) when the agent cannot: the agent
    /// removes orphans itself at its next check-in.
    pub(super) async fn remove_quietly(&self, server_id: Uuid, session_id: Uuid) {
        let removed = match self.agent_of(server_id).await {
            Ok(agent) => self
                .agents
                .remove(&agent, session_id)
                .await
                .map_err(ControlError::from),
            Err(error) => Err(error),
        };
        if let Err(error) = removed {
            tracing::warn!(%session_id, %error, "container not removed now; the agent will reconcile it");
        }
    }
}

/// How a launch this replica ran ended, as `berth_launches_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LaunchOutcome {
    Running,
    /// The session was deleted before its desktop streamed.
    Deleted,
    Failed(&'static str),
    /// Another replica took it over, or this one is stopping: not counted here.
    Abandoned,
}

/// A user at their limit of live sessions (max_kasms_per_user; 0: none) may not start another.
pub(super) fn check_limit(live: i64, limit: i64) -> Result<(), ControlError> {
    if limit > 0 && live >= limit {
        return Err(ControlError::LimitReached(format!(
            "You already have {live} session(s) running, the limit your groups allow (max_kasms_per_user {limit}). Delete one to start another."
        )));
    }
    Ok(())
}

/// Seconds a new session lives before its first keepalive: the user's keepalive_expiration
/// when a group sets it, else the deployment's session lifetime; never past
/// session_time_limit (when there is one).
fn initial_lifetime(policy: &store::policy::Policy, settings: &store::settings::Settings) -> i64 {
    use store::policy::{Source, KEEPALIVE_EXPIRATION, SESSION_TIME_LIMIT};
    let lifetime = match policy.get(KEEPALIVE_EXPIRATION).map(|r| &r.source) {
        Some(Source::Group { .. }) => policy.number(KEEPALIVE_EXPIRATION),
        _ => settings.session_lifetime_seconds,
    };
    match policy.number(SESSION_TIME_LIMIT) {
        0 => lifetime,
        limit => lifetime.min(limit),
    }
}

/// A failure's kind, for the metric's label (the message itself goes to the session).
fn failure_reason(error: &ControlError) -> &'static str {
    match error {
        ControlError::Unavailable(_) => "unavailable",
        ControlError::NotFound(_) => "not_found",
        ControlError::Invalid { .. }
        | ControlError::Conflict(_)
        | ControlError::LimitReached(_)
        | ControlError::NotAllowed(_) => "refused",
        ControlError::Internal(_) => "internal",
    }
}

fn count_launch(image: &str, outcome: LaunchOutcome, took: std::time::Duration) {
    use crate::metrics::names::{LAUNCHES, LAUNCH_DURATION};
    let outcome = match outcome {
        LaunchOutcome::Running => {
            metrics::histogram!(LAUNCH_DURATION, "image" => image.to_owned())
                .record(took.as_secs_f64());
            "running"
        }
        LaunchOutcome::Deleted => "deleted",
        LaunchOutcome::Failed(reason) => reason,
        LaunchOutcome::Abandoned => return,
    };
    metrics::counter!(LAUNCHES, "image" => image.to_owned(), "outcome" => outcome).increment(1);
}

pub(super) fn endpoint(created: CreatedSession) -> Endpoint {
    Endpoint {
        container_id: created.container_id,
        host: created.host,
        port: created.port,
    }
}

/// The agents placement may choose from (only the image's own agent when it is restricted to
/// one), as read under the placement lock.
fn candidates(
    loads: Vec<AgentLoad>,
    image_name: &str,
    restrict_to: Option<Uuid>,
) -> Vec<Candidate> {
    loads
        .into_iter()
        .filter(|agent| restrict_to.is_none_or(|id| id == agent.server_id))
        .map(|agent| Candidate {
            server_id: agent.server_id,
            has_image: agent.images_present.iter().any(|name| name == image_name),
            hostname: agent.hostname,
            online: agent.online,
            enabled: agent.enabled,
            draining: agent.draining,
            cores: agent.cores,
            memory: agent.memory,
            cores_used: agent.cores_used,
            memory_used: agent.memory_used,
            holds_profile: false,
        })
        .collect()
}

/// A random secret for a session container (URL-safe, 256 bits).
pub(super) fn session_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `run_config` with `extra` merged into its `environment` object.
fn with_environment(
    mut run_config: serde_json::Value,
    extra: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    if extra.is_empty() {
        return run_config;
    }
    if !run_config.is_object() {
        run_config = serde_json::json!({});
    }
    let environment = run_config
        .as_object_mut()
        .expect("made an object above")
        .entry("environment")
        .or_insert_with(|| serde_json::json!({}));
    if !environment.is_object() {
        *environment = serde_json::json!({});
    }
    environment
        .as_object_mut()
        .expect("made an object above")
        .extend(extra);
    run_config
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_environment_adds_to_and_overrides_the_image_environment() {
        let extra = json!({"LANG": "de_DE.UTF-8", "APP_MODE": "kiosk"});
        let merged = with_environment(
            json!({"environment": {"LANG": "C.UTF-8", "TZ": "UTC"}, "hostname": "h"}),
            extra.as_object().unwrap().clone(),
        );
        assert_eq!(
            merged,
            json!({"environment": {"LANG": "de_DE.UTF-8", "TZ": "UTC", "APP_MODE": "kiosk"}, "hostname": "h"})
        );
        let from_nothing = with_environment(json!({}), extra.as_object().unwrap().clone());
        assert_eq!(from_nothing["environment"]["APP_MODE"], "kiosk");
        assert_eq!(
            with_environment(json!({"a": 1}), Default::default()),
            json!({"a": 1})
        );
    }
}
