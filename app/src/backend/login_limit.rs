//! Refuses sign-in for a username after repeated failures, counted in Redis.
use crate::AppError;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

/// Failures allowed within the window before sign-in is refused.
pub const MAX_FAILURES: u32 = 5;
/// The window, and how long the refusal lasts after the last counted failure.
pub const WINDOW_SECS: i64 = 15 * 60;

fn key(prefix: &str, username: &str) -> String {
    format!("{prefix}login_failures:{}", username.to_lowercase())
}

fn redis_down(error: redis::RedisError) -> AppError {
    tracing::error!(%error, "redis unavailable");
    AppError::Unavailable(
        "Sign-in is unavailable: Redis is not answering. Try again shortly.".into(),
    )
}

/// Errs with 429 while `username` is locked out.
pub async fn check(
    redis: &mut ConnectionManager,
    prefix: &str,
    username: &str,
) -> Result<(), AppError> {
    let key = key(prefix, username);
    let failures: Option<u32> = redis.get(&key).await.map_err(redis_down)?;
    if failures.unwrap_or(0) < MAX_FAILURES {
        return Ok(());
    }
    let ttl: i64 = redis.ttl(&key).await.map_err(redis_down)?;
    let minutes = (ttl.max(1) + 59) / 60;
    Err(AppError::TooManyRequests(format!(
        "Too many failed sign-in attempts for this username. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )))
}

/// Counts one failure; the count expires `WINDOW_SECS` after the latest failure.
pub async fn record_failure(
    redis: &mut ConnectionManager,
    prefix: &str,
    username: &str,
) -> Result<u32, AppError> {
    let key = key(prefix, username);
    let (count,): (u32,) = redis::pipe()
        .atomic()
        .incr(&key, 1u32)
        .expire(&key, WINDOW_SECS)
        .ignore()
        .query_async(redis)
        .await
        .map_err(redis_down)?;
    Ok(count)
}

pub async fn clear(
    redis: &mut ConnectionManager,
    prefix: &str,
    username: &str,
) -> Result<(), AppError> {
    redis
        .del::<_, ()>(key(prefix, username))
        .await
        .map_err(redis_down)
}
