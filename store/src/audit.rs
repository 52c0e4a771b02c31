//! The audit log: who did what to what, and how it ended. Writing it never fails the action
//! it records (already done by then): a failure is logged instead.
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
