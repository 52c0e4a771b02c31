//! The session rows an agent's check-in is compared with, and their disagreement counters (how
//! many check-ins in a row reported the container absent, or in another state than the row).
use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// A session with a container on the agent, as its row says.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub session_id: Uuid,
    pub status: SessionStatus,
    pub container_id: Option<String>,
    pub port: Option<u16>,
    pub disagreeing_checkins: i32,
}

/// The agent's running, paused and stopped sessions.
pub async fn with_containers_on(db: &PgPool, server_id: Uuid) -> Result<Vec<Placed>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT session_id, operational_status AS "status: SessionStatus", container_id, port, disagreeing_checkins
           FROM sessions
           WHERE server_id = $1 AND operational_status IN ('running', 'paused', 'stopped')"#,
        server_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Placed {
            session_id: row.session_id,
            status: row.status,
            container_id: row.container_id,
            port: row.port.and_then(|port| u16::try_from(port).ok()),
            disagreeing_checkins: row.disagreeing_checkins,
        })
        .collect())
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
