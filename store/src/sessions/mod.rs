//! Sessions (desktops): the look-ups several roles make, and the manager's reads and writes
//! of the session rows. Status changes themselves go through [`state::write`] only, which
//! the manager's state machine drives.
pub mod agent_reports;
mod listed;
pub mod placement;
pub mod recovery;
pub mod state;
pub mod views;

pub use listed::{listed, live_ids_of_user, ListedSession};

use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Who owns the session; None when there is no such session or it is staged (nobody's until
/// a launch takes it over).
pub async fn owner_of(db: &PgPool, session_id: Uuid) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT user_id AS "user_id!" FROM sessions WHERE session_id = $1 AND user_id IS NOT NULL"#,
        session_id
    )
    .fetch_optional(db)
    .await?)
}

/// How many sessions the user has that are not deleted (on a pool, or inside the caller's
/// transaction when the count must hold until it commits).
pub async fn live_count_of_user(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM sessions WHERE user_id = $1 AND operational_status <> 'deleted'"#,
        user_id
    )
    .fetch_one(db)
    .await?)
}

/// The session's status; None when there is no such session.
pub async fn status_of(db: &PgPool, session_id: Uuid) -> Result<Option<SessionStatus>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT operational_status AS "status: SessionStatus" FROM sessions WHERE session_id = $1"#,
        session_id
    )
    .fetch_optional(db)
    .await?)
}

/// What the manager's controls need of a session: its agent, state and secret.
#[derive(Debug, Clone)]
pub struct Controlled {
    pub server_id: Option<Uuid>,
    pub status: SessionStatus,
    pub secret: String,
}

pub async fn controlled(db: &PgPool, session_id: Uuid) -> Result<Option<Controlled>, StoreError> {
    Ok(sqlx::query_as!(
        Controlled,
        r#"SELECT server_id, operational_status AS "status: SessionStatus", session_secret AS secret
           FROM sessions WHERE session_id = $1"#,
        session_id
    )
    .fetch_optional(db)
    .await?)
}

/// The secret the session's container authenticates VNC clients with.
pub async fn secret_of(db: &PgPool, session_id: Uuid) -> Result<String, StoreError> {
    sqlx::query_scalar!(
        "SELECT session_secret FROM sessions WHERE session_id = $1",
        session_id
    )
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound("session"))
}

/// A session's container endpoint, as the manager recorded it (for the proxy and screenshots).
#[derive(Debug, Clone)]
pub struct Target {
    /// None: a staged session, nobody's (and reachable by nobody) until handed over.
    pub owner: Option<Uuid>,
    pub status: SessionStatus,
    pub host: String,
    pub port: Option<u16>,
    pub secret: String,
    /// The container the manager recorded as streaming on `port`.
    pub container_id: Option<String>,
}

pub async fn target_of(db: &PgPool, session_id: Uuid) -> Result<Option<Target>, StoreError> {
    let row = sqlx::query!(
        r#"SELECT user_id, operational_status AS "operational_status: SessionStatus", hostname, port,
                  session_secret, container_id
           FROM sessions WHERE session_id = $1"#,
        session_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| Target {
        owner: row.user_id,
        status: row.operational_status,
        host: row.hostname,
        port: row.port.and_then(|port| u16::try_from(port).ok()),
        secret: row.session_secret,
        container_id: row.container_id,
    }))
}

/// Makes `replica` the session's supervisor (it starts the container again).
pub async fn set_supervisor(
    db: &PgPool,
    session_id: Uuid,
    replica: Uuid,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE sessions SET supervisor = $2 WHERE session_id = $1",
        session_id,
        replica
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Pushes a live session's expiration to at least `window_secs` from now, but never past
/// `limit_secs` from its creation (0: no limit); false when there is no live session (none,
/// or being deleted, or deleted).
pub async fn keep_alive(
    db: &PgPool,
    session_id: Uuid,
    window_secs: i64,
    limit_secs: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        r#"UPDATE sessions SET keepalive_date = now(),
               expiration_date = LEAST(GREATEST(expiration_date, now() + make_interval(secs => $2)),
                                       CASE WHEN $3 > 0 THEN created_date + make_interval(secs => $3)
                                            ELSE 'infinity'::timestamptz END)
           WHERE session_id = $1 AND operational_status NOT IN ('deleting', 'deleted')"#,
        session_id,
        window_secs as f64,
        limit_secs as f64,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Live sessions whose expiration date has passed.
pub async fn expired(db: &PgPool) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT session_id FROM sessions
           WHERE expiration_date < now() AND operational_status NOT IN ('deleting', 'deleted')"#
    )
    .fetch_all(db)
    .await?)
}
