//! Refuses sign-in for a username from an address after repeated failures, counted in Redis
//! by `store::counters`.
use crate::AppError;
use redis::aio::ConnectionManager;
use store::counters;

/// Failures allowed within the window before sign-in is refused.
pub const MAX_FAILURES: u32 = 5;
/// The window, and how long the refusal lasts after the last counted failure.
pub const WINDOW_SECS: i64 = 15 * 60;

/// Any failure to count means Redis is not answering (the store has logged it).
fn redis_down(_: store::StoreError) -> AppError {
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
    let key = counters::sign_in_failures_key(prefix, username, address);
    let count = counters::add_extending_window(redis, &key, WINDOW_SECS)
        .await
        .map_err(redis_down)?;
    if count.value <= MAX_FAILURES {
        return Ok(());
    }
    let minutes = (count.ttl_secs.max(1) + 59) / 60;
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
    let key = counters::sign_in_failures_key(prefix, username, address);
    counters::remove(redis, &key).await.map_err(redis_down)
}
