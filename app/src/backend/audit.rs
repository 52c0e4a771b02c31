//! The audit log: who did what to what, and how it ended.
use sqlx::PgPool;
use uuid::Uuid;

pub struct Entry<'a> {
    pub actor_user_id: Option<Uuid>,
    pub action: &'a str,
    pub target: String,
    pub outcome: &'a str,
    pub details: serde_json::Value,
}

/// Writes one entry. A failure to audit is logged, never shown to the user as the outcome
/// of their (already completed) action.
pub async fn record(db: &PgPool, entry: Entry<'_>) {
    let result = sqlx::query!(
        "INSERT INTO audit_log (actor_user_id, action, target, outcome, details) VALUES ($1, $2, $3, $4, $5)",
        entry.actor_user_id,
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

pub async fn ok(db: &PgPool, actor: Uuid, action: &str, target: impl Into<String>) {
    record(
        db,
        Entry {
            actor_user_id: Some(actor),
            action,
            target: target.into(),
            outcome: "ok",
            details: serde_json::json!({}),
        },
    )
    .await
}
