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
    /// None: a staged session, nobody's until a launch takes it over.
    pub user_id: Option<Uuid>,
    /// The staging config a staged session is started for.
    pub staging_config_id: Option<Uuid>,
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
                                  supervisor, launch_spec, staging_config_id)
               VALUES ($1, $2, $3, $4, $5, 'provisioning', $6, 10, $7, $8,
                       now() + make_interval(secs => $9), $10, $11, $12)"#,
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
            session.staging_config_id,
        )
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// A ready staged session a launch took over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub session_id: Uuid,
    pub server_id: Uuid,
    pub staging_config_id: Option<Uuid>,
}

/// What the taking over sets: the new owner and secret, and its lifetime from now.
#[derive(Debug, Clone)]
pub struct HandOver<'a> {
    pub image_id: Uuid,
    pub user_id: Uuid,
    pub secret: &'a str,
    pub lifetime_secs: i64,
}

impl Placement {
    /// Takes over the oldest ready staged session of the image (not about to expire) for the
    /// user: one statement, rows other launches are claiming skipped, so two launches never
    /// get the same one. None when there is none.
    pub async fn claim_staged(
        &mut self,
        hand_over: &HandOver<'_>,
    ) -> Result<Option<Claimed>, StoreError> {
        let claimed = sqlx::query!(
            r#"UPDATE sessions SET user_id = $2, session_secret = $3, handed_over = now(),
                   created_date = now(), keepalive_date = now(),
                   expiration_date = now() + make_interval(secs => $4)
               WHERE session_id = (
                   SELECT session_id FROM sessions
                   WHERE user_id IS NULL AND image_id = $1 AND operational_status = 'running'
                     AND staging_config_id IS NOT NULL AND server_id IS NOT NULL
                     AND expiration_date > now() + interval '10 seconds'
                   ORDER BY start_date, session_id
                   LIMIT 1
                   FOR UPDATE SKIP LOCKED)
                 AND user_id IS NULL AND operational_status = 'running'
               RETURNING session_id, server_id AS "server_id!", staging_config_id"#,
            hand_over.image_id,
            hand_over.user_id,
            hand_over.secret,
            hand_over.lifetime_secs as f64,
        )
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(claimed.map(|row| Claimed {
            session_id: row.session_id,
            server_id: row.server_id,
            staging_config_id: row.staging_config_id,
        }))
    }

    /// The staged sessions of the config that serve or soon will (starting or ready), as of
    /// this placement: what another replica's tending may have added since this one planned.
    pub async fn serving_staged(&mut self, staging_config_id: Uuid) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM sessions
               WHERE user_id IS NULL AND staging_config_id = $1
                 AND operational_status IN ('requested', 'provisioning', 'starting', 'running')"#,
            staging_config_id
        )
        .fetch_one(&mut *self.tx)
        .await?)
    }

    /// Commits what was done under the lock (a hand-over).
    pub async fn commit(self) -> Result<(), StoreError> {
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
