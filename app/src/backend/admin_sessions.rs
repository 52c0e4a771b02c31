//! Every session, as Admin → Sessions lists it (destruction goes through the manager).
use super::db_error;
use crate::model::{AdminSessionRow, SessionStatus};
use crate::AppError;
use sqlx::PgPool;

/// Every session, newest first; ended ones only when asked.
pub async fn list(db: &PgPool, include_deleted: bool) -> Result<Vec<AdminSessionRow>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT k.kasm_id, u.username, i.friendly_name, COALESCE(s.hostname, '') AS "hostname!",
                  k.operational_status AS "operational_status: SessionStatus", k.operational_message, k.operational_progress,
                  k.created_date, k.expiration_date,
                  EXTRACT(EPOCH FROM (now() - k.created_date))::int8 AS "age!",
                  EXTRACT(EPOCH FROM (k.expiration_date - now()))::int8 AS "expires!"
           FROM kasms k JOIN users u ON u.user_id = k.user_id JOIN images i ON i.image_id = k.image_id
           LEFT JOIN servers s ON s.server_id = k.server_id
           WHERE $1 OR k.operational_status <> 'deleted'
           ORDER BY k.created_date DESC LIMIT 500"#,
        include_deleted
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| AdminSessionRow {
            kasm_id: row.kasm_id,
            username: row.username,
            image_name: row.friendly_name,
            hostname: row.hostname,
            status: row.operational_status,
            message: row.operational_message,
            progress: row.operational_progress,
            created: row.created_date.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            expires: row
                .expiration_date
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            age_secs: row.age,
            expires_in_secs: row.expires.max(0),
        })
        .collect())
}
