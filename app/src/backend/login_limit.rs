//! Refuses sign-in for a username from an address after repeated failures, counted in Redis.
use crate::AppError;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

/// Failures allowed within the window before sign-in is refused.
pub const MAX_FAILURES: u32 = 5;
/// The window, and how long the refusal lasts after the last counted failure.
pub const WINDOW_SECS: i64 = 15 * 60;

fn key(prefix: &str, username: &str, address: &str) -> String {
    format!(
        "{prefix}login_failures:{}:{address}",
        username.to_lowercase()
    )
}

fn redis_down(error: redis::RedisError) -> AppError {
    tracing::error!(%error, "redis unavailable");
    AppError::Unavailable(
        "Sign-in is unavailable: Redis is not answering. Try again shortly.".into(),
    )
}

/// Counts one attempt for `username` from `address` before its password is checked, and errs
/// with 429 once [`MAX_FAILURES`] are counted: however many attempts arrive at once, no more
/// than that many are ever verified. The count expires [`WINDOW_SECS`] after the latest
/// attempt; a successful sign-in clears it. Counted per address, so that someone elsewhere
/// cannot lock the account's owner out (each address has its own [`super::rate_limit`] too).
pub async fn reserve(
    redis: &mut ConnectionManager,
    prefix: &str,
    username: &str,
    address: &str,
) -> Result<(), AppError> {
    let key = key(prefix, username, address);
    let (count, ttl): (u32, i64) = redis::pipe()
        .atomic()
        .incr(&key, 1u32)
        .expire(&key, WINDOW_SECS)
        .ignore()
        .ttl(&key)
        .query_async(redis)
        .await
        .map_err(redis_down)?;
    if count <= MAX_FAILURES {
        return Ok(());
    }
    let minutes = (ttl.max(1) + 59) / 60;
    Err(AppError::TooManyRequests(format!(
        "Too many failed sign-in attempts for this username. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )))
}

pub async fn clear(
    redis: &mut ConnectionManager,
    prefix: &str,
    username: &str,
    address: &str,
) -> Result<(), AppError> {
    redis
        .del::<_, ()>(key(prefix, username, address))
        .await
        .map_err(redis_down)
}
