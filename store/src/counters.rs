//! Counters that expire, in Redis so that every replica counts together: what the request
//! limits count (per address, and per username and address). How much is too much is the
//! caller's business; this is only the counting.
use crate::StoreError;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

/// A counter's value and the seconds before it expires (negative when it does not exist or
/// has no expiry, as Redis says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub value: u32,
    pub ttl_secs: i64,
}

impl From<redis::RedisError> for StoreError {
    fn from(error: redis::RedisError) -> Self {
        tracing::error!(%error, "redis unavailable");
        StoreError::Unavailable
    }
}

/// The key of a per-address counter of one kind of request.
pub fn per_address_key(prefix: &str, kind: &str, address: &str) -> String {
    format!("{prefix}rate:{kind}:{address}")
}

/// The key of the counter of failed sign-ins for a username (in any case) from an address.
pub fn sign_in_failures_key(prefix: &str, username: &str, address: &str) -> String {
    format!(
        "{prefix}login_failures:{}:{address}",
        username.to_lowercase()
    )
}

/// Adds one; a new counter expires `window_secs` after its first count (a fixed window).
pub async fn add_in_fixed_window(
    redis: &mut ConnectionManager,
    key: &str,
    window_secs: i64,
) -> Result<Count, StoreError> {
    let (value, ttl_secs): (i64, i64) = redis::pipe()
        .atomic()
        .incr(key, 1u32)
        .cmd("EXPIRE")
        .arg(key)
        .arg(window_secs)
        .arg("NX")
        .ignore()
        .ttl(key)
        .query_async(redis)
        .await?;
    Ok(Count {
        value: non_negative(value),
        ttl_secs,
    })
}

/// Adds one; the counter expires `window_secs` after its latest count.
pub async fn add_extending_window(
    redis: &mut ConnectionManager,
    key: &str,
    window_secs: i64,
) -> Result<Count, StoreError> {
    let (value, ttl_secs): (i64, i64) = redis::pipe()
        .atomic()
        .incr(key, 1u32)
        .expire(key, window_secs)
        .ignore()
        .ttl(key)
        .query_async(redis)
        .await?;
    Ok(Count {
        value: non_negative(value),
        ttl_secs,
    })
}

/// The counter as it is (0 when it does not exist).
pub async fn read(redis: &mut ConnectionManager, key: &str) -> Result<Count, StoreError> {
    let (value, ttl_secs): (Option<i64>, i64) =
        redis::pipe().get(key).ttl(key).query_async(redis).await?;
    Ok(Count {
        value: non_negative(value.unwrap_or(0)),
        ttl_secs,
    })
}

/// A count as read: a take-back after the counter expired leaves it below zero (DECR of a
/// missing key is -1), which counts as none rather than as a Redis failure.
fn non_negative(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}

/// Takes one back.
pub async fn subtract_one(redis: &mut ConnectionManager, key: &str) -> Result<(), StoreError> {
    let left = redis::cmd("DECR")
        .arg(key)
        .query_async::<i64>(redis)
        .await?;
    if left < 0 {
        // The counter had expired: nothing to take back (and no key without an expiry left).
        redis.del::<_, ()>(key).await?;
    }
    Ok(())
}

/// Removes the counter.
pub async fn remove(redis: &mut ConnectionManager, key: &str) -> Result<(), StoreError> {
    redis.del::<_, ()>(key).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_failures_count_the_username_in_any_case() {
        assert_eq!(
            sign_in_failures_key("berth:", "Ann", "10.0.0.7"),
            sign_in_failures_key("berth:", "ann", "10.0.0.7")
        );
        assert_eq!(
            per_address_key("berth:", "sign_in", "10.0.0.7"),
            "berth:rate:sign_in:10.0.0.7"
        );
    }
}

#[cfg(test)]
mod count_tests {
    use super::non_negative;

    #[test]
    fn a_count_taken_back_below_zero_reads_as_none() {
        assert_eq!(non_negative(-1), 0);
        assert_eq!(non_negative(0), 0);
        assert_eq!(non_negative(7), 7);
        assert_eq!(non_negative(i64::MAX), u32::MAX);
    }
}
