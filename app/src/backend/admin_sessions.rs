//! Every session, as Admin → Sessions lists it (destruction goes through the manager).
use crate::model::AdminSessionRow;
use crate::AppError;
use sqlx::PgPool;

/// Every session, newest first; ended ones only when asked.
pub async fn list(db: &PgPool, include_deleted: bool) -> Result<Vec<AdminSessionRow>, AppError> {
    Ok(store::sessions::views::all(db, include_deleted)
        .await?
        .into_iter()
        .map(|session| AdminSessionRow {
            session_id: session.session_id,
            username: session.username,
            image_name: session.image_name,
            hostname: session.hostname,
            status: session.status,
            message: session.message,
            progress: session.progress,
            created: session.created.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            expires: session.expires.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            age_secs: session.age_secs,
            expires_in_secs: session.expires_in_secs.max(0),
        })
        .collect())
}
