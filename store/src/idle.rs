//! The shared record of a session owner's last input, in Redis so that every replica (and
//! every stream of the owner's, wherever it is relayed) sees it: the time of the latest input
//! a stream has shared, in Unix milliseconds. Streams write it at most once per
//! `share_every` (server/src/proxy/idle.rs), so it may lag the real last input by that much.
use crate::StoreError;
use redis::aio::ConnectionManager;
use std::time::Duration;
use uuid::Uuid;

/// How often at most a stream shares its input: a minute, or a quarter of a shorter limit
/// (so the record lags the real last input by at most that).
pub fn share_every(limit: Duration) -> Duration {
    Duration::from_secs(60).min(limit / 4)
}

/// How long a record outlives its last write (a day: sessions idle longer are long gone).
const KEEP_SECS: u64 = 24 * 3600;

/// Sets the record to ARGV[1] unless it holds a later time, atomically (two streams of the
/// owner's may write at once), and renews its expiry.
const NEWER: &str = r"local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > old then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1";

/// The key of a session's last-input record.
pub fn key(prefix: &str, session_id: Uuid) -> String {
    format!("{prefix}idle:{session_id}")
}

/// Records input at `unix_ms`, unless a later time is already recorded.
pub async fn record_input(
    redis: &mut ConnectionManager,
    prefix: &str,
    session_id: Uuid,
    unix_ms: i64,
) -> Result<(), StoreError> {
    // The newer of the two, atomically (two streams of the owner's may write at once).
    let _: i64 = redis::cmd("EVAL")
        .arg(NEWER)
        .arg(1)
        .arg(key(prefix, session_id))
        .arg(unix_ms)
        .arg(KEEP_SECS)
        .query_async(redis)
        .await?;
    Ok(())
}

/// The latest input recorded for the session (Unix milliseconds), if any.
pub async fn last_input(
    redis: &mut ConnectionManager,
    prefix: &str,
    session_id: Uuid,
) -> Result<Option<i64>, StoreError> {
    let value: Option<i64> = redis::cmd("GET")
        .arg(key(prefix, session_id))
        .query_async(redis)
        .await?;
    Ok(value)
}
