//! Which agents are silent: their check-ins' times are kept in Redis (`store::presence`), so
//! that a check-in reporting nothing new writes nothing to PostgreSQL; an agent's row keeps the
//! time of its last check-in that changed something. An agent is offline when neither says it
//! checked in within three intervals, and Redis's silence counts only once Redis has been
//! keeping check-ins for that long (after a restart that emptied it, or while it can't be
//! reached, check-ins write their rows again: see `checkin::record`).
use redis::aio::ConnectionManager;
use std::sync::Mutex;
use store::agents::SilentRow;
use uuid::Uuid;

/// How many intervals without a check-in make an agent offline.
pub const OFFLINE_AFTER_INTERVALS: i64 = 3;

/// How long a check-in waits for Redis to keep its time before writing its row instead.
const RECORD_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

/// The Redis side of agents' check-ins, for one deployment's key prefix.
pub struct AgentPresence {
    redis: ConnectionManager,
    prefix: String,
    /// When this process first found Redis unreachable in the current outage (Unix ms).
    unreachable_since: Mutex<Option<i64>>,
}

/// What is known of the check-ins of agents whose rows look silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Check-ins are kept on the rows only (no Redis configured): the rows are the whole truth.
    RowsOnly,
    /// Redis's record: each agent's last check-in (in the candidates' order), and since when
    /// Redis has been keeping them.
    Seen { since: i64, seen: Vec<Option<i64>> },
    /// Redis can't be reached, since this time: check-ins write their rows meanwhile, so the
    /// rows are the truth for an agent once the outage is older than its threshold.
    Unreachable { since: i64 },
}

/// The milliseconds of silence after which an agent checking in every `interval_secs` is
/// offline.
pub fn threshold_ms(interval_secs: i32) -> i64 {
    i64::from(interval_secs.max(1)) * OFFLINE_AFTER_INTERVALS * 1000
}

/// The candidates (online agents whose rows are older than their threshold) that are silent
/// at `now` (Unix milliseconds), given what Redis says.
pub fn silent(candidates: &[SilentRow], evidence: &Evidence, now: i64) -> Vec<Uuid> {
    let long_enough = |since: i64, row: &SilentRow| since <= now - threshold_ms(row.interval_secs);
    candidates
        .iter()
        .enumerate()
        .filter(|(index, row)| match evidence {
            Evidence::RowsOnly => true,
            Evidence::Unreachable { since } => long_enough(*since, row),
            Evidence::Seen { since, seen } => {
                let last = seen.get(*index).copied().flatten();
                let quiet = last.is_none_or(|at| at < now - threshold_ms(row.interval_secs));
                quiet && long_enough(*since, row)
            }
        })
        .map(|(_, row)| row.server_id)
        .collect()
}

/// Now, in Unix milliseconds (what check-ins are recorded in).
pub fn unix_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl AgentPresence {
    pub fn new(redis: ConnectionManager, prefix: String) -> Self {
        AgentPresence {
            redis,
            prefix,
            unreachable_since: Mutex::new(None),
        }
    }

    /// Records a check-in by `server_id` (checking in every `interval_secs`) now; false when
    /// Redis could not take it (the caller then writes the row).
    pub async fn record(&self, server_id: Uuid, interval_secs: i32) -> bool {
        let keep = (threshold_ms(interval_secs) / 1000).unsigned_abs();
        let mut redis = self.redis.clone();
        let record =
            store::presence::record(&mut redis, &self.prefix, server_id, unix_now_ms(), keep);
        // Bounded: while Redis is down, check-ins go on (written on their rows) without
        // waiting out the connection's retries.
        let recorded = tokio::time::timeout(RECORD_WITHIN, record).await;
        match recorded {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, %server_id, "could not keep a check-in in Redis; writing its row");
                false
            }
            Err(_) => {
                tracing::warn!(%server_id, "Redis did not keep a check-in in time; writing its row");
                false
            }
        }
    }

    /// What Redis says of `candidates` now.
    pub async fn evidence(&self, candidates: &[SilentRow], now: i64) -> Evidence {
        let ids: Vec<Uuid> = candidates.iter().map(|row| row.server_id).collect();
        let mut redis = self.redis.clone();
        let read = async {
            let since = store::presence::tracking_since(&mut redis, &self.prefix, now).await?;
            let seen = store::presence::last_seen(&mut redis, &self.prefix, &ids).await?;
            Ok::<_, store::StoreError>(Evidence::Seen { since, seen })
        };
        let result = read.await;
        let mut unreachable = self
            .unreachable_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match result {
            Ok(evidence) => {
                *unreachable = None;
                evidence
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read agents' check-ins from Redis; judging by their rows");
                Evidence::Unreachable {
                    since: *unreachable.get_or_insert(now),
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "presence_tests.rs"]
mod tests;
