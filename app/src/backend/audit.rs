//! The audit log: the UI's actions, written through the store; the page of it Admin → Audit
//! shows; and the purge that keeps it to its retention setting.
use crate::model::{AuditFilter, AuditPage, AuditRow};
use crate::AppError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::PgPool;
use store::audit::{Actor, Entry};
use uuid::Uuid;

/// A completed action of a signed-in user.
pub async fn ok(db: &PgPool, actor: Uuid, action: &str, target: impl Into<String>) {
    let target = target.into();
    store::audit::record(
        db,
        Entry {
            actor: Actor::User(actor),
            action,
            target: &target,
            outcome: "ok",
            details: serde_json::json!({}),
        },
    )
    .await
}

/// Entries on one page of Admin → Audit.
pub const PAGE_SIZE: i64 = 50;
/// The longest retention that may be set (ten years).
pub const MAX_RETENTION_DAYS: i64 = 3650;
/// Entries one purge statement deletes: a long backlog goes in short transactions.
pub const PURGE_BATCH: i64 = 5000;

/// One page of the audit log for Admin → Audit.
pub async fn page(db: &PgPool, filter: &AuditFilter) -> Result<AuditPage, AppError> {
    let search = store::audit::Search {
        actor: given(&filter.actor),
        action: given(&filter.action),
        target: given(&filter.target),
        from: time("from", &filter.from)?,
        until: time("until", &filter.until)?,
        outcome: outcome(&filter.outcome)?,
        before: match filter.before.trim() {
            "" => None,
            before => Some(before.parse().map_err(|_| {
                AppError::invalid("before", "The page bound must be an entry number.")
            })?),
        },
        // One more than shown tells whether there is an older page.
        limit: PAGE_SIZE + 1,
    };
    let mut rows = store::audit::search(db, &search).await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let next_before = more.then(|| rows.last().map(|row| row.audit_id)).flatten();
    Ok(AuditPage {
        rows: rows.into_iter().map(row).collect(),
        next_before,
        retention_days: store::settings::load(db).await?.audit_retention_days,
    })
}

fn row(entry: store::audit::Listed) -> AuditRow {
    AuditRow {
        audit_id: entry.audit_id,
        at: entry.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        outcome: entry.outcome,
        counted: entry.counted,
        calls: entry.calls,
    }
}

fn given(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|text| !text.is_empty())
}

/// A filter's time: `YYYY-MM-DD` (midnight) or `YYYY-MM-DD HH:MM[:SS]`, UTC.
fn time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let text = text.replace('T', " ");
    let parsed = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(|day| day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        })
        .map_err(|_| {
            AppError::invalid(
                field,
                format!("Give {field} as YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC), not '{text}'."),
            )
        })?;
    Ok(Some(parsed.and_utc()))
}

fn outcome(text: &str) -> Result<Option<String>, AppError> {
    match text.trim() {
        "" => Ok(None),
        known @ ("ok" | "denied" | "error") => Ok(Some(known.to_owned())),
        other => Err(AppError::invalid(
            "outcome",
            format!("The outcome is ok, denied or error, not '{other}'."),
        )),
    }
}

/// Deletes the entries older than the retention setting, in batches; answers how many went.
pub async fn purge(db: &PgPool) -> Result<u64, AppError> {
    let days = store::settings::load(db).await?.audit_retention_days;
    let mut deleted = 0;
    loop {
        let batch = store::audit::purge_batch(db, days, PURGE_BATCH).await?;
        deleted += batch;
        if batch < PURGE_BATCH as u64 {
            return Ok(deleted);
        }
    }
}
