//! The manager role: the registry of agents, placement of new sessions, every session's
//! state from request to deletion, keepalive, expiry and reaping.
pub mod checkin;
mod exec;
pub mod images;
mod lifecycle;
pub mod placement;

use crate::protocol::{CreateSession, CreatedSession};
use app::backend::sessions::SessionControl;
use app::model::SessionChange;
use app::AppError;
use placement::Candidate;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// The shared secret agents present.
    pub agent_token: String,
    /// How long a launch may take from placement to a streaming desktop.
    pub launch_timeout: Duration,
    /// How often the reaper and the offline check run.
    pub sweep_interval: Duration,
}

pub struct Manager {
    db: PgPool,
    http: reqwest::Client,
    config: ManagerConfig,
}

fn internal(error: impl std::fmt::Display) -> AppError {
    AppError::Internal(error.to_string())
}

fn db(error: sqlx::Error) -> AppError {
    app::backend::db_error(error)
}

/// A random secret for a session container (URL-safe, 256 bits).
fn session_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Manager {
    pub fn new(db: PgPool, config: ManagerConfig) -> Arc<Manager> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client needs no system configuration");
        Arc::new(Manager { db, http, config })
    }

    pub fn agent_token(&self) -> &str {
        &self.config.agent_token
    }

    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// Starts the periodic work: offline marking and the reaper.
    pub fn spawn_background(self: &Arc<Self>) {
        let manager = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(manager.config.sweep_interval);
            loop {
                tick.tick().await;
                if let Err(error) = checkin::mark_silent_agents_offline(&manager.db).await {
                    tracing::warn!(%error, "could not mark silent agents offline");
                }
                manager.reap_expired().await;
            }
        });
    }

    /// Destroys sessions whose expiration date has passed.
    pub async fn reap_expired(&self) {
        let expired = sqlx::query_scalar!(
            r#"SELECT kasm_id FROM kasms
               WHERE expiration_date < now() AND operational_status NOT IN ('deleting', 'deleted')"#
        )
        .fetch_all(&self.db)
        .await;
        match expired {
            Ok(ids) => {
                for kasm_id in ids {
                    tracing::info!(%kasm_id, "session expired; destroying it");
                    if let Err(error) = self.destroy_session(kasm_id, "The session expired.").await
                    {
                        tracing::warn!(%kasm_id, %error, "could not destroy an expired session");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "reaper could not list expired sessions"),
        }
    }

    /// Agents with their capacity and what live sessions hold, for placement.
    async fn candidates(
        &self,
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
        .fetch_all(&self.db)
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

    /// Places and records a new session, then launches it in the background.
    pub async fn request_session(
        self: &Arc<Self>,
        user_id: Uuid,
        image_id: Uuid,
    ) -> Result<Uuid, AppError> {
        self.request_session_with(user_id, image_id, LaunchOptions::default())
            .await
    }

    /// As `request_session`, with what the Developer API's request_kasm may add.
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
        let limit = app::backend::users::setting_i64(&self.db, "max_kasms_per_user", 2).await;
        let lifetime =
            app::backend::users::setting_i64(&self.db, "session_lifetime_seconds", 3600).await;

        // Serialise placements so two launches cannot both take the last free capacity.
        let mut tx = self.db.begin().await.map_err(db)?;
        sqlx::query!("SELECT pg_advisory_xact_lock(7301)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let live = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM kasms WHERE user_id = $1 AND operational_status <> 'deleted'"#,
            user_id
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if limit > 0 && live >= limit {
            return Err(AppError::TooManyRequests(format!(
                "You already have {live} session(s) running, the most allowed. Delete one to start another."
            )));
        }
        let restrict = if image.restrict_to_server {
            image.server_id
        } else {
            None
        };
        let candidates = self.candidates(&image.name, restrict).await?;
        let server_id = placement::choose(&candidates, image.cores, image.memory)
            .map_err(|no_capacity| AppError::Unavailable(no_capacity.to_string()))?;
        let kasm_id = Uuid::new_v4();
        sqlx::query!(
            r#"INSERT INTO kasms (kasm_id, user_id, image_id, server_id, session_secret, operational_status,
                                  operational_message, operational_progress, cores, memory, expiration_date)
               VALUES ($1, $2, $3, $4, $5, 'provisioning', 'Placing the session', 10, $6, $7,
                       now() + make_interval(secs => $8))"#,
            kasm_id,
            user_id,
            image_id,
            server_id,
            session_secret(),
            image.cores,
            image.memory,
            lifetime as f64,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;

        let manager = Arc::clone(self);
        let spec = LaunchSpec {
            kasm_id,
            user_id,
            image_id,
            image: image.name,
            cores: image.cores,
            memory: image.memory,
            network_mode: image.network_mode,
            run_config: with_environment(image.run_config, options.environment),
            start_url: options.start_url,
            server_id,
        };
        tokio::spawn(async move { manager.launch(spec).await });
        Ok(kasm_id)
    }

    async fn set_state(
        &self,
        kasm_id: Uuid,
        from: &[&str],
        to: &str,
        message: &str,
        progress: i32,
    ) -> Result<bool, AppError> {
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        let done = sqlx::query!(
            r#"UPDATE kasms SET operational_status = $3, operational_message = $4, operational_progress = $5
               WHERE kasm_id = $1 AND operational_status = ANY($2)"#,
            kasm_id,
            &from,
            to,
            message,
            progress,
        )
        .execute(&self.db)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn agent_of(&self, server_id: Uuid) -> Result<(String, String), AppError> {
        let row = sqlx::query!(
            "SELECT agent_url, hostname FROM servers WHERE server_id = $1",
            server_id
        )
        .fetch_optional(&self.db)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound("The session's agent is no longer registered.".into()))?;
        Ok((row.agent_url, row.hostname))
    }

    async fn launch(&self, spec: LaunchSpec) {
        let kasm_id = spec.kasm_id;
        if let Err(error) = self.try_launch(&spec).await {
            tracing::warn!(%kasm_id, %error, "launch failed");
            let message = format!("The launch failed: {error}");
            let _ = self.remove_container(spec.server_id, kasm_id).await;
            let _ = sqlx::query!(
                r#"UPDATE kasms SET operational_status = 'deleted', operational_message = $2,
                                    operational_progress = 100, destroyed_date = now()
                   WHERE kasm_id = $1 AND operational_status <> 'deleted'"#,
                kasm_id,
                message,
            )
            .execute(&self.db)
            .await;
        }
    }

    async fn try_launch(&self, spec: &LaunchSpec) -> Result<(), AppError> {
        let (agent_url, hostname) = self.agent_of(spec.server_id).await?;
        let secret = sqlx::query_scalar!(
            "SELECT session_secret FROM kasms WHERE kasm_id = $1",
            spec.kasm_id
        )
        .fetch_one(&self.db)
        .await
        .map_err(db)?;
        let message = format!("Starting the desktop on {hostname}");
        if !self
            .set_state(spec.kasm_id, &["provisioning"], "starting", &message, 30)
            .await?
        {
            return Ok(()); // destroyed meanwhile
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
        let response = self
            .http
            .post(format!("{agent_url}/v1/sessions"))
            .bearer_auth(&self.config.agent_token)
            .json(&request)
            .timeout(self.config.launch_timeout)
            .send()
            .await
            .map_err(|error| {
                AppError::Unavailable(format!("agent {hostname} did not answer: {error}"))
            })?;
        let created: CreatedSession = agent_reply(response, &hostname).await?;
        let updated = sqlx::query!(
            r#"UPDATE kasms SET operational_status = 'running', operational_message = 'Running',
                                operational_progress = 100, container_id = $2, hostname = $3, port = $4,
                                start_date = now(), keepalive_date = now()
               WHERE kasm_id = $1 AND operational_status = 'starting'"#,
            spec.kasm_id,
            created.container_id,
            created.host,
            i32::from(created.port),
        )
        .execute(&self.db)
        .await
        .map_err(db)?;
        if updated.rows_affected() == 0 {
            // Destroyed while starting: do not leave the container behind.
            self.remove_container(spec.server_id, spec.kasm_id).await?;
        }
        Ok(())
    }

    /// Calls an agent's API (short requests: removal, pause, stop).
    async fn call_agent(
        &self,
        server_id: Uuid,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(), AppError> {
        self.call_agent_with::<serde_json::Value>(
            server_id,
            method,
            path,
            None,
            Duration::from_secs(30),
        )
        .await
        .map(|_| ())
    }

    /// Calls an agent's API with an optional JSON body and decodes its answer.
    async fn call_agent_with<T: serde::de::DeserializeOwned>(
        &self,
        server_id: Uuid,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<T, AppError> {
        let (agent_url, hostname) = self.agent_of(server_id).await?;
        let mut request = self
            .http
            .request(method, format!("{agent_url}{path}"))
            .bearer_auth(&self.config.agent_token)
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            AppError::Unavailable(format!("agent {hostname} did not answer: {error}"))
        })?;
        agent_reply(response, &hostname).await
    }

    async fn remove_container(&self, server_id: Uuid, kasm_id: Uuid) -> Result<(), AppError> {
        self.call_agent(
            server_id,
            reqwest::Method::DELETE,
            &format!("/v1/sessions/{kasm_id}"),
        )
        .await
    }

    /// The session's agent, state and secret, as the controls below need them.
    async fn session_state(&self, kasm_id: Uuid) -> Result<SessionState, AppError> {
        sqlx::query_as!(
            SessionState,
            r#"SELECT server_id, operational_status AS status, session_secret AS secret
               FROM kasms WHERE kasm_id = $1"#,
            kasm_id
        )
        .fetch_optional(&self.db)
        .await
        .map_err(db)?
        .ok_or_else(|| AppError::NotFound(format!("No session {kasm_id}.")))
    }

    /// Destroys a session: deleting, container removed, deleted. An unreachable agent does not
    /// keep the session alive: the agent removes the orphan when it checks in again.
    pub async fn destroy_session(&self, kasm_id: Uuid, reason: &str) -> Result<(), AppError> {
        let row = self.session_state(kasm_id).await?;
        if row.status == "deleted" {
            return Ok(());
        }
        sqlx::query!(
            "UPDATE kasms SET operational_status = 'deleting', operational_message = 'Deleting' WHERE kasm_id = $1",
            kasm_id
        )
        .execute(&self.db)
        .await
        .map_err(db)?;
        if let Some(server_id) = row.server_id {
            if let Err(error) = self.remove_container(server_id, kasm_id).await {
                tracing::warn!(%kasm_id, %error, "container not removed now; the agent will reconcile it");
            }
        }
        sqlx::query!(
            r#"UPDATE kasms SET operational_status = 'deleted', operational_message = $2, destroyed_date = now()
               WHERE kasm_id = $1"#,
            kasm_id,
            reason,
        )
        .execute(&self.db)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Pushes the session's expiration forward by the keepalive window.
    pub async fn keepalive(&self, kasm_id: Uuid) -> Result<(), AppError> {
        let window = app::backend::users::setting_i64(&self.db, "keepalive_seconds", 3600).await;
        let done = sqlx::query!(
            r#"UPDATE kasms SET keepalive_date = now(),
                   expiration_date = GREATEST(expiration_date, now() + make_interval(secs => $2))
               WHERE kasm_id = $1 AND operational_status NOT IN ('deleting', 'deleted')"#,
            kasm_id,
            window as f64,
        )
        .execute(&self.db)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(AppError::NotFound(format!("No live session {kasm_id}.")));
        }
        Ok(())
    }
}

struct LaunchSpec {
    kasm_id: Uuid,
    user_id: Uuid,
    image_id: Uuid,
    image: String,
    cores: f64,
    memory: i64,
    network_mode: String,
    run_config: serde_json::Value,
    start_url: Option<String>,
    server_id: Uuid,
}

struct SessionState {
    server_id: Option<Uuid>,
    status: String,
    secret: String,
}

impl SessionState {
    /// The agent the session was placed on.
    fn agent(&self) -> Result<Uuid, AppError> {
        self.server_id
            .ok_or_else(|| AppError::Unavailable("The session has no agent.".into()))
    }
}

/// Extras of a launch requested through the Developer API.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// Variables for the container: they add to and override the image's run_config
    /// environment (Berth's own BERTH_* variables still win).
    pub environment: serde_json::Map<String, serde_json::Value>,
    /// The first page of a browser workspace.
    pub start_url: Option<String>,
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

/// Decodes an agent's answer, turning its error body into a message naming the agent.
async fn agent_reply<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    hostname: &str,
) -> Result<T, AppError> {
    let status = response.status();
    let body = response.text().await.map_err(internal)?;
    if !status.is_success() {
        let message = serde_json::from_str::<crate::protocol::AgentError>(&body)
            .map(|error| error.error)
            .unwrap_or(body);
        return Err(AppError::Unavailable(format!(
            "agent {hostname}: {message}"
        )));
    }
    serde_json::from_str(&body)
        .map_err(|error| internal(format!("agent {hostname} answered badly: {error}")))
}

/// The app reaches the manager through this trait.
pub struct ManagerHandle(pub Arc<Manager>);

#[async_trait::async_trait]
impl SessionControl for ManagerHandle {
    async fn request(&self, user_id: Uuid, image_id: Uuid) -> Result<Uuid, AppError> {
        self.0.request_session(user_id, image_id).await
    }

    async fn destroy(&self, kasm_id: Uuid) -> Result<(), AppError> {
        self.0.destroy_session(kasm_id, "Deleted.").await
    }

    async fn change(&self, kasm_id: Uuid, change: SessionChange) -> Result<(), AppError> {
        self.0.change_session(kasm_id, change).await
    }

    async fn keepalive(&self, kasm_id: Uuid) -> Result<(), AppError> {
        self.0.keepalive(kasm_id).await
    }
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
