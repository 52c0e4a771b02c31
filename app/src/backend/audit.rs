//! The audit log of the UI's actions, written through the store.
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
