//! The session rows an agent's check-in is compared with, and their disagreement counters (how
//! many check-ins in a row reported the container absent, or in another state than the row).
use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// A session on the agent, as its row says (what a check-in reads: `agents::check_in`).
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub session_id: Uuid,
    pub status: SessionStatus,
    pub container_id: Option<String>,
    pub port: Option<u16>,
    pub disagreeing_checkins: i32,
}

/// One more check-in that disagreed about these sessions (deleted sessions are left alone).
pub async fn count_disagreeing(db: &PgPool, session_ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE sessions SET disagreeing_checkins = disagreeing_checkins + 1 WHERE session_id = ANY($1) AND operational_status <> 'deleted'",
        session_ids
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A check-in agreed with these sessions' rows again.
pub async fn reset_disagreeing(db: &PgPool, session_ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE sessions SET disagreeing_checkins = 0 WHERE session_id = ANY($1)",
        session_ids
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The agent's sessions that are not deleted (what it may keep containers for).
pub async fn not_deleted_on(db: &PgPool, server_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT session_id FROM sessions WHERE server_id = $1 AND operational_status <> 'deleted'",
        server_id
    )
    .fetch_all(db)
    .await?)
}
