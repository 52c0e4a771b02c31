//! The session rows an agent's check-in is compared with, and their absence counters (how
//! many check-ins in a row did not report the container).
use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// A session with a container on the agent, as its row says.
#[derive(Debug, Clone)]
pub struct Placed {
    pub kasm_id: Uuid,
    pub status: SessionStatus,
    pub container_id: Option<String>,
    pub port: Option<u16>,
    pub absent_checkins: i32,
}

/// The agent's running, paused and stopped sessions.
pub async fn with_containers_on(db: &PgPool, server_id: Uuid) -> Result<Vec<Placed>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT kasm_id, operational_status AS "status: SessionStatus", container_id, port, absent_checkins
           FROM kasms
           WHERE server_id = $1 AND operational_status IN ('running', 'paused', 'stopped')"#,
        server_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Placed {
            kasm_id: row.kasm_id,
            status: row.status,
            container_id: row.container_id,
            port: row.port.and_then(|port| u16::try_from(port).ok()),
            absent_checkins: row.absent_checkins,
        })
        .collect())
}

/// One more check-in without these sessions' containers (deleted sessions are left alone).
pub async fn count_absent(db: &PgPool, kasm_ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE kasms SET absent_checkins = absent_checkins + 1 WHERE kasm_id = ANY($1) AND operational_status <> 'deleted'",
        kasm_ids
    )
    .execute(db)
    .await?;
    Ok(())
}

/// These sessions' containers were reported again.
pub async fn reset_absent(db: &PgPool, kasm_ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE kasms SET absent_checkins = 0 WHERE kasm_id = ANY($1)",
        kasm_ids
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The agent's sessions that are not deleted (what it may keep containers for).
pub async fn not_deleted_on(db: &PgPool, server_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT kasm_id FROM kasms WHERE server_id = $1 AND operational_status <> 'deleted'",
        server_id
    )
    .fetch_all(db)
    .await?)
}
