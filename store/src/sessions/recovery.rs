//! Launches left under way by a replica that stopped: claimed by the replica that finishes
//! them, and given back when it cannot yet.
use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// A launch under way whose supervisor is gone, now claimed.
#[derive(Debug, Clone)]
pub struct Orphan {
    pub session_id: Uuid,
    pub status: SessionStatus,
    pub server_id: Option<Uuid>,
    pub secret: String,
    /// The launch spec, while the launch is still queued.
    pub spec: Option<serde_json::Value>,
    /// Whether it streamed before (a start after a stop, not a first launch).
    pub has_streamed: bool,
}

/// Claims for `replica` the sessions in requested, provisioning or starting whose supervisor
/// has not heartbeated for `timeout_secs` (rows another replica is claiming are skipped).
pub async fn claim_orphans(
    db: &PgPool,
    replica: Uuid,
    timeout_secs: f64,
) -> Result<Vec<Orphan>, StoreError> {
    Ok(sqlx::query_as!(
        Orphan,
        r#"UPDATE sessions SET supervisor = $1
           WHERE session_id IN (
               SELECT session_id FROM sessions
               WHERE operational_status IN ('requested', 'provisioning', 'starting')
                 AND (supervisor IS NULL OR supervisor NOT IN (
                     SELECT replica_id FROM replicas
                     WHERE last_seen > now() - make_interval(secs => $2)))
               FOR UPDATE SKIP LOCKED)
           RETURNING session_id, operational_status AS "status: SessionStatus", server_id,
                     session_secret AS secret, launch_spec AS spec,
                     start_date IS NOT NULL AS "has_streamed!""#,
        replica,
        timeout_secs,
    )
    .fetch_all(db)
    .await?)
}

/// Gives a claimed session back (if `replica` still holds it), so a later round tries again.
pub async fn release(db: &PgPool, session_id: Uuid, replica: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE sessions SET supervisor = NULL WHERE session_id = $1 AND supervisor = $2",
        session_id,
        replica
    )
    .execute(db)
    .await?;
    Ok(())
}
