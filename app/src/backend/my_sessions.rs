//! The signed-in user's own sessions: what they see and may do to them.
use super::db_error;
use crate::model::{SessionStatus, SessionView};
use crate::AppError;
use sqlx::PgPool;
use uuid::Uuid;

/// The user's sessions that have not ended, newest first.
pub async fn list(db: &PgPool, user_id: Uuid) -> Result<Vec<SessionView>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT k.kasm_id, i.friendly_name, k.operational_status AS "operational_status: SessionStatus", k.operational_message,
                  k.operational_progress, k.created_date,
                  EXTRACT(EPOCH FROM (k.expiration_date - now()))::int8 AS "expires_in!"
           FROM kasms k JOIN images i ON i.image_id = k.image_id
           WHERE k.user_id = $1 AND k.operational_status <> 'deleted'
           ORDER BY k.created_date DESC"#,
        user_id
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| SessionView {
            kasm_id: row.kasm_id,
            image_name: row.friendly_name,
            status: row.operational_status,
            message: row.operational_message,
            progress: row.operational_progress,
            created: row.created_date.format("%Y-%m-%d %H:%M").to_string(),
            expires_in_secs: row.expires_in.max(0),
        })
        .collect())
}

/// One session of the user's; 404 if it does not exist, 403 if it is someone else's.
pub async fn get(db: &PgPool, user_id: Uuid, kasm_id: Uuid) -> Result<SessionView, AppError> {
    let row = sqlx::query!(
        r#"SELECT k.user_id, i.friendly_name, k.operational_status AS "operational_status: SessionStatus", k.operational_message,
                  k.operational_progress, k.created_date,
                  EXTRACT(EPOCH FROM (k.expiration_date - now()))::int8 AS "expires_in!"
           FROM kasms k JOIN images i ON i.image_id = k.image_id
           WHERE k.kasm_id = $1"#,
        kasm_id
    )
    .fetch_optional(db)
    .await
    .map_err(db_error)?
    .ok_or_else(|| AppError::NotFound("No such session.".into()))?;
    if row.user_id != user_id {
        return Err(AppError::Forbidden);
    }
    Ok(SessionView {
        kasm_id,
        image_name: row.friendly_name,
        status: row.operational_status,
        message: row.operational_message,
        progress: row.operational_progress,
        created: row.created_date.format("%Y-%m-%d %H:%M").to_string(),
        expires_in_secs: row.expires_in.max(0),
    })
}
