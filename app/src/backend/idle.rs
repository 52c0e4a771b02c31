//! What the session page and the keepalive know of the owner's idleness: the shared record of
//! their last input (`store::idle`, written by the proxy's streams) against their
//! `idle_disconnect`.
use crate::AppError;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// The owner's idle state of a session, as far as the shared record tells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Idleness {
    pub limit: Duration,
    /// Since the last recorded input.
    pub since_input: Duration,
}

impl Idleness {
    /// Seconds before the owner's streams are disconnected (0: they are).
    pub fn disconnect_in_secs(&self) -> i64 {
        self.limit.saturating_sub(self.since_input).as_secs() as i64
    }

    /// How early the page warns: a minute, or half of a shorter limit (longer than the record
    /// may lag, so input that flows never shows a warning).
    pub fn warn_secs(&self) -> i64 {
        (self.limit / 2).min(Duration::from_secs(60)).as_secs() as i64
    }

    /// Whether the owner is idle beyond doubt: past the limit even allowing for the record's
    /// lag behind the streams' real last input.
    pub fn idled_out(&self) -> bool {
        self.since_input > self.limit + store::idle::share_every(self.limit)
    }
}

/// `owner`'s idleness on `session_id`: None when their `idle_disconnect` is off or no stream
/// has recorded input yet.
pub async fn of(
    db: &PgPool,
    redis: &ConnectionManager,
    prefix: &str,
    owner: Uuid,
    session_id: Uuid,
) -> Result<Option<Idleness>, AppError> {
    let policy = store::group_access::policy_of(db, owner).await?;
    let Some(limit) = policy.idle_limit() else {
        return Ok(None);
    };
    let mut redis = redis.clone();
    let Some(last) = store::idle::last_input(&mut redis, prefix, session_id).await? else {
        return Ok(None);
    };
    let now = chrono::Utc::now().timestamp_millis();
    let since_input = Duration::from_millis(now.saturating_sub(last).max(0) as u64);
    Ok(Some(Idleness { limit, since_input }))
}

/// Refuses to keep a session alive whose owner has idled out (their streams were closed);
/// reconnecting to the desktop counts as input and lifts this.
pub fn require_active(idleness: Option<Idleness>) -> Result<(), AppError> {
    match idleness {
        Some(idle) if idle.idled_out() => Err(AppError::Conflict {
            field: None,
            message: "No input for the idle limit: the desktop was disconnected and the \
                      session is no longer kept alive. Reconnect to the desktop to keep it."
                .into(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(limit: u64, since: u64) -> Idleness {
        Idleness {
            limit: Duration::from_secs(limit),
            since_input: Duration::from_secs(since),
        }
    }

    #[test]
    fn the_warning_comes_a_minute_before_or_half_a_short_limit() {
        assert_eq!(idle(600, 0).warn_secs(), 60);
        assert_eq!(idle(20, 0).warn_secs(), 10);
        assert_eq!(idle(600, 550).disconnect_in_secs(), 50);
        assert_eq!(idle(600, 700).disconnect_in_secs(), 0);
    }

    #[test]
    fn the_keepalive_is_refused_only_past_the_limit_and_the_records_lag() {
        assert!(require_active(None).is_ok());
        assert!(require_active(Some(idle(600, 600))).is_ok());
        assert!(require_active(Some(idle(600, 659))).is_ok());
        let refused = require_active(Some(idle(600, 661))).unwrap_err();
        assert!(refused.to_string().contains("idle limit"));
    }
}
