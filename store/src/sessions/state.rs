//! The one statement in Berth that writes a session's status: a compare-and-set on the row,
//! so two actors racing can never move a session along an edge the state machine (the
//! manager's `state` module, which decides every write) does not have.
use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// Where a session's desktop streams now: its container and the published port.
#[derive(Debug, Clone, Copy)]
pub struct Streaming<'a> {
    pub container_id: &'a str,
    pub host: &'a str,
    pub port: u16,
}

/// A status change: allowed only from `from`; `streaming` when it records a new endpoint.
#[derive(Debug, Clone)]
pub struct StateWrite<'a> {
    pub from: &'a [SessionStatus],
    pub to: SessionStatus,
    pub message: String,
    pub progress: i32,
    pub streaming: Option<Streaming<'a>>,
}

/// Writes the change if the session's current status is one of `from` (atomically: compared
/// and set in one statement). False when it was not, e.g. the session was deleted meanwhile.
pub async fn write(
    db: &PgPool,
    session_id: Uuid,
    change: &StateWrite<'_>,
) -> Result<bool, StoreError> {
    let from: Vec<String> = change
        .from
        .iter()
        .map(|status| status.as_str().to_owned())
        .collect();
    let streaming = change.streaming;
    let done = sqlx::query!(
        r#"UPDATE sessions SET
               operational_status = $3, operational_message = $4, operational_progress = $5,
               container_id = COALESCE($6, container_id),
               hostname = COALESCE($7, hostname),
               port = COALESCE($8, port),
               start_date = CASE WHEN $3 = 'running' THEN COALESCE(start_date, now()) ELSE start_date END,
               keepalive_date = CASE WHEN $6::text IS NOT NULL THEN now() ELSE keepalive_date END,
               destroyed_date = CASE WHEN $3 = 'deleted' THEN now() ELSE destroyed_date END,
               -- What a queued launch needed (the caller's environment) is not kept past it.
               launch_spec = CASE WHEN $3 IN ('starting', 'provisioning') THEN launch_spec ELSE NULL END,
               disagreeing_checkins = 0
           WHERE session_id = $1 AND operational_status = ANY($2)"#,
        session_id,
        &from,
        change.to.as_str(),
        change.message,
        change.progress,
        streaming.map(|s| s.container_id),
        streaming.map(|s| s.host),
        streaming.map(|s| i32::from(s.port)),
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
