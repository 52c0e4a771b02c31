//! The audit log: who did what to what, and how it ended. Writing it never fails the action
//! it records (already done by then): a failure is logged instead. Reads of the Developer API
//! are counted per key, endpoint, outcome and minute in one row instead ([`count_reads`]).
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Who acted: a user, a Developer API key (None when the key was unknown), or nobody known
/// (a sign-in with an unknown username).
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    User(Uuid),
    ApiKey(Option<Uuid>),
    Unknown,
}

pub struct Entry<'a> {
    pub actor: Actor,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub details: serde_json::Value,
}

/// Writes one entry.
pub async fn record(db: &PgPool, entry: Entry<'_>) {
    let (user, api_key) = match entry.actor {
        Actor::User(user) => (Some(user), None),
        Actor::ApiKey(key) => (None, key),
        Actor::Unknown => (None, None),
    };
    let result = sqlx::query!(
        "INSERT INTO audit_log (actor_user_id, actor_api_key, action, target, outcome, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
        user,
        api_key,
        entry.action,
        entry.target,
        entry.outcome,
        entry.details,
    )
    .execute(db)
    .await;
    if let Err(error) = result {
        tracing::error!(%error, action = entry.action, "could not write the audit log");
    }
}

/// Calls of one read endpoint by one key (None: an unknown key) with one outcome, in the
/// minute starting at `window_start`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadWindow {
    pub api_key: Option<Uuid>,
    pub action: String,
    pub outcome: &'static str,
    pub window_start: DateTime<Utc>,
}

/// Adds `calls` to the window's one row (made by the first count).
pub async fn count_reads(db: &PgPool, window: &ReadWindow, calls: i64) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO audit_log (at, actor_api_key, action, target, outcome, calls, window_start)
           VALUES ($4, $1, $2, 'api', $3, $5, $4)
           ON CONFLICT (actor_api_key, action, outcome, window_start) WHERE window_start IS NOT NULL
           DO UPDATE SET calls = audit_log.calls + EXCLUDED.calls"#,
        window.api_key,
        window.action,
        window.outcome,
        window.window_start,
        calls,
    )
    .execute(db)
    .await?;
    Ok(())
}
