//! Agent hosts ("servers") as the admin manages them (the rows in `store::servers`).
use crate::model::ServerRow;
use crate::AppError;
use sqlx::PgPool;
use store::StoreError;
use uuid::Uuid;

/// The agents, each with its last check-in: the later of its row's (the last check-in that
/// changed something) and Redis's (`store::presence`, where unchanged check-ins are kept; the
/// row's alone when Redis can't be reached).
pub async fn list(state: &super::AppState) -> Result<Vec<ServerRow>, AppError> {
    let mut rows = store::servers::list(&state.db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.server_id).collect();
    let mut redis = state.redis.clone();
    let seen = store::presence::last_seen(&mut redis, &state.web.redis_prefix, &ids)
        .await
        .unwrap_or_default();
    let now = chrono::Utc::now();
    for (row, seen) in rows.iter_mut().zip(seen) {
        let seen = seen.and_then(chrono::DateTime::from_timestamp_millis);
        if let Some(seen) = seen.filter(|seen| row.last_checkin.is_none_or(|row| *seen > row)) {
            row.last_checkin = Some(seen);
            row.seconds_since_checkin = Some((now - seen).num_seconds().max(0));
        }
    }
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
            seconds_since_checkin: row.seconds_since_checkin,
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
    store::servers::set_flags(db, server_id, enabled, draining)
        .await
        .map_err(no_such_server)
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
    store::servers::set_overrides(db, server_id, cores, memory)
        .await
        .map_err(no_such_server)
}

/// The store's "not found" in the words Admin → Servers has always shown.
fn no_such_server(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound(_) => AppError::NotFound("No such server.".into()),
        other => other.into(),
    }
}
