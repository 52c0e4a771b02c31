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
use super::{db, internal, Manager};
use crate::protocol::{CreateSession, CreatedSession};
use app::AppError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
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
}

/// Everything a launch needs besides the session's row (kept in `kasms.launch_spec`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LaunchSpec {
    pub kasm_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub image: String,
    pub cores: f64,
    pub memory: i64,
    pub network_mode: String,
    pub run_config: serde_json::Value,
    pub start_url: Option<String>,
    pub server_id: Uuid,
}

/// Serialises placements across replicas (pg_advisory_xact_lock key).
const PLACEMENT_LOCK: i64 = 7301;

impl Manager {
    /// Places and records a new session, then launches it under supervision.
    pub async fn request_session(
        self: &Arc<Self>,
        user_id: Uuid,
        image_id: Uuid,
    ) -> Result<Uuid, AppError> {
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
    ) -> Result<Uuid, AppError> {
        let image = sqlx::query!(
            r#"SELECT image_id, name, cores, memory, enabled, network_mode, run_config,
                      restrict_to_server, server_id
               FROM images WHERE image_id = $1"#,
            image_id
        )
        .fetch_optional(&self.db)
        .await
        .map_err(db)?
        .ok_or_else(|| {
            AppError::NotFound(format!("No workspace image {image_id} is registered."))
        })?;
        if !image.enabled {
            return Err(AppError::invalid("image_id", "That workspace is disabled."));
        }
        let settings = store::settings::load(&self.db).await?;
        let (limit, lifetime) = (
            settings.max_kasms_per_user,
            settings.session_lifetime_seconds,
        );
        let restrict = image.server_id.filter(|_| image.restrict_to_server);
        let mut spec = LaunchSpec {
            kasm_id: Uuid::new_v4(),
            user_id,
            image_id,
            image: image.name,
            cores: image.cores,
            memory: image.memory,
            network_mode: image.network_mode,
            run_config: with_environment(image.run_config, options.environment),
            start_url: options.start_url,
            server_id: Uuid::nil(),
        };
        let host = self.place(&mut spec, limit, lifetime, restrict).await?;
        tracing::info!(kasm_id = %spec.kasm_id, %user_id, image = spec.image, host, "session placed");
        let kasm_id = spec.kasm_id;
        self.supervise(spec);
        Ok(kasm_id)
    }

    /// Chooses the agent and records the session (provisioning), all under the placement
    /// lock so two launches cannot both take the last free capacity. Returns the host name.
    async fn place(
        &self,
        spec: &mut LaunchSpec,
        limit: i64,
        lifetime: i64,
        restrict: Option<Uuid>,
    ) -> Result<String, AppError> {
        let _turn = self.placement_gate.lock().await;
        let mut tx = self.db.begin().await.map_err(db)?;
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", PLACEMENT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let live = store::sessions::live_count_of_user(&mut *tx, spec.user_id).await?;
        if limit > 0 && live >= limit {
            return Err(AppError::TooManyRequests(format!(
                "You already have {live} session(s) running, the most allowed. Delete one to start another."
            )));
        }
        let candidates = candidates(&mut tx, &spec.image, restrict).await?;
        spec.server_id = placement::choose(&candidates, spec.cores, spec.memory)
            .map_err(|no_capacity| AppError::Unavailable(no_capacity.to_string()))?;
        let host = candidates
            .iter()
            .find(|c| c.server_id == spec.server_id)
            .map(|c| c.hostname.clone())
            .unwrap_or_default();
        sqlx::query!(
            r#"INSERT INTO kasms (kasm_id, user_id, image_id, server_id, session_secret, operational_status,
                                  operational_message, operational_progress, cores, memory, expiration_date,
                                  supervisor, launch_spec)
               VALUES ($1, $2, $3, $4, $5, 'provisioning', $6, 10, $7, $8,
                       now() + make_interval(secs => $9), $10, $11)"#,
            spec.kasm_id,
            spec.user_id,
            spec.image_id,
            spec.server_id,
            session_secret(),
            format!("Queued on {host}"),
            spec.cores,
            spec.memory,
            lifetime as f64,
            self.replica_id,
            serde_json::to_value(&*spec).map_err(internal)?,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(host)
    }

    /// Runs the launch in the background, in a span of its own.
    pub(super) fn supervise(self: &Arc<Self>, spec: LaunchSpec) {
        let manager = Arc::clone(self);
        let span = tracing::info_span!("launch", kasm_id = %spec.kasm_id, image = %spec.image);
        tokio::spawn(async move { manager.launch(spec).await }.instrument(span));
    }

    /// Waits for a launch slot on the agent, then has the agent create the container and
    /// records where it streams. A failure ends the session with the reason and removes
    /// whatever the agent created.
    async fn launch(&self, spec: LaunchSpec) {
        let slots = self.launch_slots(spec.server_id);
        let Ok(_slot) = slots.acquire_owned().await else {
            return;
        };
        let kasm_id = spec.kasm_id;
        match self.create_container(&spec).await {
            Ok(Some(created)) => {
                let streaming = Transition::Streaming(endpoint(created));
                if !self.record(kasm_id, &streaming).await && self.is_over(kasm_id).await {
                    // Deleted while starting: do not leave the container behind.
                    self.remove_quietly(spec.server_id, kasm_id).await;
                }
            }
            Ok(None) => {} // deleted before it started
            Err(error) => {
                tracing::warn!(%kasm_id, %error, "launch failed");
                self.remove_quietly(spec.server_id, kasm_id).await;
                self.record(kasm_id, &Transition::LaunchFailed(error.to_string()))
                    .await;
            }
        }
    }

    /// provisioning → starting, then the agent's create; None when the session was deleted
    /// before its turn came.
    async fn create_container(
        &self,
        spec: &LaunchSpec,
    ) -> Result<Option<CreatedSession>, AppError> {
        let agent = self.agent_of(spec.server_id).await?;
        let secret = sqlx::query_scalar!(
            "SELECT session_secret FROM kasms WHERE kasm_id = $1",
            spec.kasm_id
        )
        .fetch_one(&self.db)
        .await
        .map_err(db)?;
        let starting = Transition::Starting {
            host: agent.hostname.clone(),
        };
        if !self.transition(spec.kasm_id, &starting).await? {
            return Ok(None);
        }
        let request = CreateSession {
            kasm_id: spec.kasm_id,
            user_id: spec.user_id,
            image_id: spec.image_id,
            image: spec.image.clone(),
            cores: spec.cores,
            memory: spec.memory,
            network_mode: spec.network_mode.clone(),
            secret,
            run_config: spec.run_config.clone(),
            start_url: spec.start_url.clone(),
        };
        let created = self
            .agents
            .create(&agent, &request, self.config.launch_timeout)
            .await?;
        Ok(Some(created))
    }

    /// Whether the session is being deleted or gone (not merely moved on by someone else,
    /// e.g. a replica that took the launch over).
    async fn is_over(&self, kasm_id: Uuid) -> bool {
        match self.session_state(kasm_id).await {
            Ok(row) => row.status.is_over(),
            Err(AppError::NotFound(_)) => true,
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
    pub(super) async fn remove_quietly(&self, server_id: Uuid, kasm_id: Uuid) {
        let removed = match self.agent_of(server_id).await {
            Ok(agent) => self
                .agents
                .remove(&agent, kasm_id)
                .await
                .map_err(AppError::from),
            Err(error) => Err(error),
        };
        if let Err(error) = removed {
            tracing::warn!(%kasm_id, %error, "container not removed now; the agent will reconcile it");
        }
    }
}

pub(super) fn endpoint(created: CreatedSession) -> Endpoint {
    Endpoint {
        container_id: created.container_id,
        host: created.host,
        port: created.port,
    }
}

/// Agents with their capacity and what live sessions hold, for placement, read on the
/// placement transaction's connection.
async fn candidates(
    tx: &mut sqlx::PgConnection,
    image_name: &str,
    restrict_to: Option<Uuid>,
) -> Result<Vec<Candidate>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT s.server_id, s.hostname, s.status, s.enabled, s.draining, s.images_present,
                  COALESCE(s.cores_override, s.cores) AS "cores!",
                  COALESCE(s.memory_override, s.memory) AS "memory!",
                  COALESCE(SUM(k.cores), 0)::float8 AS "cores_used!",
                  COALESCE(SUM(k.memory), 0)::int8 AS "memory_used!"
           FROM servers s
           LEFT JOIN kasms k ON k.server_id = s.server_id AND k.operational_status NOT IN ('deleted')
           GROUP BY s.server_id
           ORDER BY s.hostname"#
    )
    .fetch_all(tx)
    .await
    .map_err(db)?;
    Ok(rows
        .into_iter()
        .filter(|row| restrict_to.is_none_or(|id| id == row.server_id))
        .map(|row| Candidate {
            server_id: row.server_id,
            hostname: row.hostname,
            online: row.status == "online",
            enabled: row.enabled,
            draining: row.draining,
            has_image: row.images_present.iter().any(|name| name == image_name),
            cores: row.cores,
            memory: row.memory,
            cores_used: row.cores_used,
            memory_used: row.memory_used,
        })
        .collect())
}

/// A random secret for a session container (URL-safe, 256 bits).
fn session_secret() -> String {
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
