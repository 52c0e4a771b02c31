//! Agent hosts ("servers") as the admin sees and tunes them.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A server with what is allocated on it now (its live sessions' cores and memory).
#[derive(Debug, Clone)]
pub struct ServerRecord {
    pub server_id: Uuid,
    pub hostname: String,
    pub status: String,
    pub enabled: bool,
    pub draining: bool,
    pub last_checkin: Option<DateTime<Utc>>,
    pub seconds_since_checkin: Option<i64>,
    /// The capacity placement assumes: the override when set, else what the agent reported.
    pub cores: f64,
    pub memory: i64,
    pub cores_override: Option<f64>,
    pub memory_override: Option<i64>,
    pub images_present: Vec<String>,
    pub images_missing: Vec<String>,
    pub version: String,
    pub gpus: i32,
    pub disk_free: i64,
    pub credential_issued: Option<DateTime<Utc>>,
    pub cores_allocated: f64,
    pub memory_allocated: i64,
    pub sessions: i64,
}

/// Every server, by name.
pub async fn list(db: &PgPool) -> Result<Vec<ServerRecord>, StoreError> {
    Ok(sqlx::query_as!(
        ServerRecord,
        r#"SELECT s.server_id, s.hostname, s.status, s.enabled, s.draining, s.last_checkin,
                  EXTRACT(EPOCH FROM (now() - s.last_checkin))::int8 AS "seconds_since_checkin",
                  COALESCE(s.cores_override, s.cores) AS "cores!", COALESCE(s.memory_override, s.memory) AS "memory!",
                  s.cores_override, s.memory_override, s.images_present, s.images_missing, s.version, s.gpus, s.disk_free,
                  s.credential_issued,
                  COALESCE(SUM(k.cores), 0)::float8 AS "cores_allocated!",
                  COALESCE(SUM(k.memory), 0)::int8 AS "memory_allocated!",
                  count(k.session_id) AS "sessions!"
           FROM servers s
           LEFT JOIN sessions k ON k.server_id = s.server_id AND k.operational_status <> 'deleted'
           GROUP BY s.server_id ORDER BY s.hostname"#
    )
    .fetch_all(db)
    .await?)
}

/// Whether placement may use the server (`enabled`) and whether it takes no new sessions
/// while its current ones run on (`draining`).
pub async fn set_flags(
    db: &PgPool,
    server_id: Uuid,
    enabled: bool,
    draining: bool,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE servers SET enabled = $2, draining = $3 WHERE server_id = $1",
        server_id,
        enabled,
        draining
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

/// Sets (None clears) the capacity placement assumes instead of what the agent reports.
pub async fn set_overrides(
    db: &PgPool,
    server_id: Uuid,
    cores: Option<f64>,
    memory: Option<i64>,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE servers SET cores_override = $2, memory_override = $3 WHERE server_id = $1",
        server_id,
        cores,
        memory
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound("server"))
    } else {
        Ok(())
    }
}
