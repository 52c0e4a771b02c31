//! Sessions as people see them: a user's own (dashboard, session page) and every session
//! (Admin → Sessions). Times are returned as they are; the app formats them.
use crate::StoreError;
use berth_model::SessionStatus;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// One session, as its owner sees it.
#[derive(Debug, Clone)]
pub struct OwnSession {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub image_name: String,
    pub status: SessionStatus,
    pub message: String,
    pub progress: i32,
    pub created: DateTime<Utc>,
    /// Seconds until it expires without keepalive (negative once past).
    pub expires_in_secs: i64,
}

/// The user's sessions that have not ended, newest first.
pub async fn of_user(db: &PgPool, user_id: Uuid) -> Result<Vec<OwnSession>, StoreError> {
    Ok(sqlx::query_as!(
        OwnSession,
        r#"SELECT k.session_id, k.user_id AS "user_id!", k.image_id, i.friendly_name AS image_name,
                  k.operational_status AS "status: SessionStatus", k.operational_message AS message,
                  k.operational_progress AS progress, k.created_date AS created,
                  EXTRACT(EPOCH FROM (k.expiration_date - now()))::int8 AS "expires_in_secs!"
           FROM sessions k JOIN images i ON i.image_id = k.image_id
           WHERE k.user_id = $1 AND k.operational_status <> 'deleted'
           ORDER BY k.created_date DESC"#,
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// One session, whoever owns it (the caller checks).
pub async fn one(db: &PgPool, session_id: Uuid) -> Result<Option<OwnSession>, StoreError> {
    Ok(sqlx::query_as!(
        OwnSession,
        r#"SELECT k.session_id, k.user_id AS "user_id!", k.image_id, i.friendly_name AS image_name,
                  k.operational_status AS "status: SessionStatus", k.operational_message AS message,
                  k.operational_progress AS progress, k.created_date AS created,
                  EXTRACT(EPOCH FROM (k.expiration_date - now()))::int8 AS "expires_in_secs!"
           FROM sessions k JOIN images i ON i.image_id = k.image_id
           WHERE k.session_id = $1 AND k.user_id IS NOT NULL"#,
        session_id
    )
    .fetch_optional(db)
    .await?)
}

/// Any session, as Admin → Sessions lists it.
#[derive(Debug, Clone)]
pub struct AnySession {
    pub session_id: Uuid,
    pub username: String,
    pub image_name: String,
    /// Its agent's host name ("" when not placed).
    pub hostname: String,
    pub status: SessionStatus,
    pub message: String,
    pub progress: i32,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub age_secs: i64,
    /// Negative once expired.
    pub expires_in_secs: i64,
}

/// Every session, newest first (at most 500); deleted ones only when asked.
pub async fn all(db: &PgPool, include_deleted: bool) -> Result<Vec<AnySession>, StoreError> {
    Ok(sqlx::query_as!(
        AnySession,
        r#"SELECT k.session_id, u.username, i.friendly_name AS image_name, COALESCE(s.hostname, '') AS "hostname!",
                  k.operational_status AS "status: SessionStatus", k.operational_message AS message,
                  k.operational_progress AS progress,
                  k.created_date AS created, k.expiration_date AS expires,
                  EXTRACT(EPOCH FROM (now() - k.created_date))::int8 AS "age_secs!",
                  EXTRACT(EPOCH FROM (k.expiration_date - now()))::int8 AS "expires_in_secs!"
           FROM sessions k JOIN users u ON u.user_id = k.user_id JOIN images i ON i.image_id = k.image_id
           LEFT JOIN servers s ON s.server_id = k.server_id
           WHERE $1 OR k.operational_status <> 'deleted'
           ORDER BY k.created_date DESC LIMIT 500"#,
        include_deleted
    )
    .fetch_all(db)
    .await?)
}
