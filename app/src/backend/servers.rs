//! Agent hosts ("servers") as the admin manages them.
use super::db_error;
use crate::model::ServerRow;
use crate::AppError;
use sqlx::PgPool;
use uuid::Uuid;

pub async fn list(db: &PgPool) -> Result<Vec<ServerRow>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT s.server_id, s.hostname, s.status, s.enabled, s.draining, s.last_checkin,
                  EXTRACT(EPOCH FROM (now() - s.last_checkin))::int8 AS "since",
                  COALESCE(s.cores_override, s.cores) AS "cores!", COALESCE(s.memory_override, s.memory) AS "memory!",
                  s.cores_override, s.memory_override, s.images_present, s.images_missing, s.version, s.gpus, s.disk_free,
                  s.credential_issued,
                  COALESCE(SUM(k.cores), 0)::float8 AS "cores_allocated!",
                  COALESCE(SUM(k.memory), 0)::int8 AS "memory_allocated!",
                  count(k.kasm_id) AS "sessions!"
           FROM servers s
           LEFT JOIN kasms k ON k.server_id = s.server_id AND k.operational_status <> 'deleted'
           GROUP BY s.server_id ORDER BY s.hostname"#
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| ServerRow {
            server_id: row.server_id,
            hostname: row.hostname,
            status: row.status,
            enabled: row.enabled,
            draining: row.draining,
            last_checkin: row
                .last_checkin
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            seconds_since_checkin: row.since,
            cores: row.cores,
            memory: row.memory,
            cores_override: row.cores_override,
            memory_override: row.memory_override,
            cores_allocated: row.cores_allocated,
            gpus: row.gpus,
            disk_free: row.disk_free,
            memory_allocated: row.memory_allocated,
            sessions: row.sessions,
            images_present: row.images_present,
            images_missing: row.images_missing,
            version: row.version,
            credential_issued: row
                .credential_issued
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        })
        .collect())
}

pub async fn set_flags(
    db: &PgPool,
    server_id: Uuid,
    enabled: bool,
    draining: bool,
) -> Result<(), AppError> {
    let done = sqlx::query!(
        "UPDATE servers SET enabled = $2, draining = $3 WHERE server_id = $1",
        server_id,
        enabled,
        draining
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    found(done.rows_affected())
}

/// The most cores an override may claim (hosts have more than an image may ask for).
const MAX_SERVER_CORES: f64 = 4096.0;

/// Sets (or with empty text clears) the capacity placement assumes for an agent.
pub async fn set_overrides(
    db: &PgPool,
    server_id: Uuid,
    cores: &str,
    memory: &str,
) -> Result<(), AppError> {
    let cores = match cores.trim() {
        "" => None,
        text => Some(super::images::parse_cores_up_to(text, MAX_SERVER_CORES)?),
    };
    let memory = match memory.trim() {
        "" => None,
        text => Some(super::images::parse_memory(text)?),
    };
    let done = sqlx::query!(
        "UPDATE servers SET cores_override = $2, memory_override = $3 WHERE server_id = $1",
        server_id,
        cores,
        memory
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    found(done.rows_affected())
}

fn found(rows: u64) -> Result<(), AppError> {
    if rows == 0 {
        Err(AppError::NotFound("No such server.".into()))
    } else {
        Ok(())
    }
}
