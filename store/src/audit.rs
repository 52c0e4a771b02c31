//! The audit log: who did what to what, and how it ended. Writing it never fails the action
//! it records (already done by then): a failure is logged instead. Reads of the Developer API
//! are counted per key, endpoint, outcome and minute in one row instead ([`count_reads`]).
//! Admin → Audit reads it through [`search`]; [`purge_batch`] keeps it to its retention.
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

/// What the audit page asks for: every filter optional; entries older than `before` (an
/// `audit_id`, for the next page), newest first, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Part of the actor's username, or of the key's name or id.
    pub actor: Option<String>,
    /// Part of the action.
    pub action: Option<String>,
    /// Part of the target.
    pub target: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// One entry as the audit page shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub audit_id: i64,
    pub at: DateTime<Utc>,
    /// The username, `key <name>`, or empty when nobody known acted.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    /// Whether the entry counts a key's read calls in one minute.
    pub counted: bool,
    /// Calls a read entry counts (1 for any other entry).
    pub calls: i64,
    pub details: serde_json::Value,
}

/// The entries matching `search`, newest first.
pub async fn search(db: &PgPool, search: &Search) -> Result<Vec<Listed>, StoreError> {
    let like = |text: &Option<String>| {
        text.as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| {
                format!(
                    "%{}%",
                    text.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                )
            })
    };
    Ok(sqlx::query_as!(
        Listed,
        r#"SELECT a.audit_id, a.at, a.action, a.target, a.outcome, a.calls, a.details,
                  a.window_start IS NOT NULL AS "counted!",
                  COALESCE(u.username, 'key ' || k.name, CASE WHEN a.actor_api_key IS NULL THEN '' ELSE 'key ' || a.actor_api_key::text END, '') AS "actor!"
           FROM audit_log a
           LEFT JOIN users u ON u.user_id = a.actor_user_id
           LEFT JOIN api_keys k ON k.api_key_id = a.actor_api_key
           WHERE ($1::text IS NULL OR u.username ILIKE $1 OR k.name ILIKE $1 OR k.api_key ILIKE $1)
             AND ($2::text IS NULL OR a.action ILIKE $2)
             AND ($3::text IS NULL OR a.target ILIKE $3)
             AND ($4::timestamptz IS NULL OR a.at >= $4)
             AND ($5::timestamptz IS NULL OR a.at < $5)
             AND ($6::text IS NULL OR a.outcome = $6)
             AND ($7::int8 IS NULL OR a.audit_id < $7)
           ORDER BY a.audit_id DESC
           LIMIT $8"#,
        like(&search.actor),
        like(&search.action),
        like(&search.target),
        search.from,
        search.until,
        search.outcome.as_deref().filter(|o| !o.is_empty()),
        search.before,
        search.limit,
    )
    .fetch_all(db)
    .await?)
}

/// Deletes up to `batch` entries older than `days` days, oldest first; answers how many went.
pub async fn purge_batch(db: &PgPool, days: i64, batch: i64) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM audit_log WHERE audit_id IN (
             SELECT audit_id FROM audit_log WHERE at < now() - make_interval(days => $1::int)
             ORDER BY audit_id LIMIT $2)",
        days as i32,
        batch,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
