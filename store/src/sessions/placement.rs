//! A new session's placement, in one short transaction: the placement lock (an advisory lock
//! held until commit, so replicas place one at a time), the user's live sessions and the
//! agents' free capacity read under it, and the new row. Dropped without `commit`, nothing is
//! recorded and the lock is released. Also what a launch needs of its image, read first.
use crate::StoreError;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Serialises placements across replicas (pg_advisory_xact_lock key).
const PLACEMENT_LOCK: i64 = 7301;

/// An agent as placement weighs it: what it has and what its live sessions hold.
#[derive(Debug, Clone)]
pub struct AgentLoad {
    pub server_id: Uuid,
    pub hostname: String,
    pub online: bool,
    pub enabled: bool,
    pub draining: bool,
    pub images_present: Vec<String>,
    /// Capacity with overrides applied.
    pub cores: f64,
    pub memory: i64,
    pub cores_used: f64,
    pub memory_used: i64,
}

/// The new session's row, queued (provisioning) on its agent.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub server_id: Uuid,
    pub secret: &'a str,
    pub message: &'a str,
    pub cores: f64,
    pub memory: i64,
    pub lifetime_secs: i64,
    /// The replica that launches it.
    pub supervisor: Uuid,
    /// What the launch needs, kept until the container starts (a queued launch survives a
    /// restart).
    pub launch_spec: serde_json::Value,
}

/// A placement under way: holds the placement lock on its own connection until committed.
pub struct Placement {
    pub(crate) tx: Transaction<'static, Postgres>,
}

impl Placement {
    /// Opens the transaction and waits for the placement lock.
    pub async fn begin(db: &PgPool) -> Result<Placement, StoreError> {
        let mut tx = db.begin().await?;
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", PLACEMENT_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(Placement { tx })
    }

    /// The user's sessions that are not deleted, as of this placement.
    pub async fn live_count_of_user(&mut self, user_id: Uuid) -> Result<i64, StoreError> {
        super::live_count_of_user(&mut *self.tx, user_id).await
    }

    /// Every agent with its capacity and what its live sessions hold, by host name.
    pub async fn agent_loads(&mut self) -> Result<Vec<AgentLoad>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT s.server_id, s.hostname, s.status, s.enabled, s.draining, s.images_present,
                      COALESCE(s.cores_override, s.cores) AS "cores!",
                      COALESCE(s.memory_override, s.memory) AS "memory!",
                      COALESCE(SUM(k.cores), 0)::float8 AS "cores_used!",
                      COALESCE(SUM(k.memory), 0)::int8 AS "memory_used!"
               FROM servers s
               LEFT JOIN sessions k ON k.server_id = s.server_id AND k.operational_status NOT IN ('deleted')
               GROUP BY s.server_id
               ORDER BY s.hostname"#
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| AgentLoad {
                server_id: row.server_id,
                hostname: row.hostname,
                online: row.status == "online",
                enabled: row.enabled,
                draining: row.draining,
                images_present: row.images_present,
                cores: row.cores,
                memory: row.memory,
                cores_used: row.cores_used,
                memory_used: row.memory_used,
            })
            .collect())
    }

    /// Records the session and commits: the lock is released with it.
    pub async fn insert_and_commit(mut self, session: NewSession<'_>) -> Result<(), StoreError> {
        sqlx::query!(
            r#"INSERT INTO sessions (session_id, user_id, image_id, server_id, session_secret, operational_status,
                                  operational_message, operational_progress, cores, memory, expiration_date,
                                  supervisor, launch_spec)
               VALUES ($1, $2, $3, $4, $5, 'provisioning', $6, 10, $7, $8,
                       now() + make_interval(secs => $9), $10, $11)"#,
            session.session_id,
            session.user_id,
            session.image_id,
            session.server_id,
            session.secret,
            session.message,
            session.cores,
            session.memory,
            session.lifetime_secs as f64,
            session.supervisor,
            session.launch_spec,
        )
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// What a launch needs of its image.
#[derive(Debug, Clone)]
pub struct LaunchImage {
    pub name: String,
    /// What users and the metrics call it.
    pub friendly_name: String,
    pub cores: f64,
    pub memory: i64,
    pub enabled: bool,
    pub network_mode: String,
    pub run_config: serde_json::Value,
    /// The one agent it may run on, when restricted to one.
    pub only_on: Option<Uuid>,
}

pub async fn launch_image(db: &PgPool, image_id: Uuid) -> Result<Option<LaunchImage>, StoreError> {
    let row = sqlx::query!(
        r#"SELECT image_id, name, friendly_name, cores, memory, enabled, network_mode, run_config,
                  restrict_to_server, server_id
           FROM images WHERE image_id = $1"#,
        image_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|image| LaunchImage {
        name: image.name,
        friendly_name: image.friendly_name,
        cores: image.cores,
        memory: image.memory,
        enabled: image.enabled,
        network_mode: image.network_mode,
        run_config: image.run_config,
        only_on: image.server_id.filter(|_| image.restrict_to_server),
    }))
}
