//! Agents' last check-ins, in Redis: a check-in that reports nothing new writes nothing to
//! PostgreSQL, so its time lives here instead, a key per agent holding the check-in's Unix
//! time and expiring after the offline threshold (three intervals). Offline marking reads the
//! keys of the agents whose row looks silent (`manager::checkin`).
//!
//! Absence of a key means "silent" only if Redis has been keeping keys for at least the
//! threshold: a Redis restarted empty (or a deployment moving to this scheme) knows nobody
//! yet. [`tracking_since`] is that evidence: a marker set when absent, so after a loss of
//! Redis's data nobody is marked offline for the threshold while the keys fill again.
use crate::StoreError;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// The key holding an agent's last check-in (Unix milliseconds).
pub fn key(prefix: &str, server_id: Uuid) -> String {
    format!("{prefix}agent-seen:{server_id}")
}

/// The key holding when this Redis began keeping check-ins (Unix milliseconds).
pub fn tracking_key(prefix: &str) -> String {
    format!("{prefix}agent-seen-since")
}

/// Records a check-in by `server_id` at `unix_ms`, kept for `keep_secs`.
pub async fn record(
    redis: &mut ConnectionManager,
    prefix: &str,
    server_id: Uuid,
    unix_ms: i64,
    keep_secs: u64,
) -> Result<(), StoreError> {
    let () = redis::cmd("SET")
        .arg(key(prefix, server_id))
        .arg(unix_ms)
        .arg("EX")
        .arg(keep_secs.max(1))
        .query_async(redis)
        .await?;
    Ok(())
}

/// The last check-in recorded for each of `server_ids` (Unix milliseconds), in their order; None
/// for an agent with none within its threshold.
pub async fn last_seen(
    redis: &mut ConnectionManager,
    prefix: &str,
    server_ids: &[Uuid],
) -> Result<Vec<Option<i64>>, StoreError> {
    if server_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = server_ids.iter().map(|id| key(prefix, *id)).collect();
    let values: Vec<Option<i64>> = redis::cmd("MGET").arg(keys).query_async(redis).await?;
    Ok(values)
}

/// Since when (Unix milliseconds) this Redis has been keeping check-ins: the marker's
/// time, set to `now_ms` if it was absent (a new or emptied Redis).
pub async fn tracking_since(
    redis: &mut ConnectionManager,
    prefix: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let key = tracking_key(prefix);
    let _: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg(now_ms)
        .arg("NX")
        .query_async(redis)
        .await?;
    let since: Option<i64> = redis::cmd("GET").arg(&key).query_async(redis).await?;
    Ok(since.unwrap_or(now_ms))
}
