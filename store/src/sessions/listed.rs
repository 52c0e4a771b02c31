//! Sessions as the Developer API describes them (`get_kasms`, `get_user_kasms`,
//! `get_kasm_status`): every column Kasm's session object carries, with its image's names.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A listed (not deleted) session with its image's names, as the Developer API describes it.
#[derive(Debug, Clone)]
pub struct ListedSession {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub server_id: Option<Uuid>,
    pub container_id: Option<String>,
    pub hostname: String,
    pub port: Option<i32>,
    pub operational_status: String,
    pub operational_message: String,
    pub operational_progress: i32,
    pub share_id: Option<String>,
    pub cores: f64,
    pub memory: i64,
    pub start_date: Option<DateTime<Utc>>,
    pub keepalive_date: Option<DateTime<Utc>>,
    pub expiration_date: DateTime<Utc>,
    pub created_date: DateTime<Utc>,
    pub image_name: String,
    pub image_friendly_name: String,
    pub image_src: String,
}

/// Sessions that are not deleted, oldest first: all (`None`, `None`), one user's, or one.
pub async fn listed(
    db: &PgPool,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
) -> Result<Vec<ListedSession>, StoreError> {
    Ok(sqlx::query_as!(
        ListedSession,
        r#"SELECT k.session_id, k.user_id AS "user_id!", k.image_id, k.server_id, k.container_id, k.hostname, k.port,
                  k.operational_status, k.operational_message, k.operational_progress, k.share_id, k.cores,
                  k.memory, k.start_date, k.keepalive_date, k.expiration_date, k.created_date,
                  i.name AS image_name, i.friendly_name AS image_friendly_name, i.image_src
           FROM sessions k JOIN images i ON i.image_id = k.image_id
           WHERE k.operational_status <> 'deleted' AND k.user_id IS NOT NULL AND ($1::uuid IS NULL OR k.user_id = $1)
             AND ($2::uuid IS NULL OR k.session_id = $2)
           ORDER BY k.created_date"#,
        user_id,
        session_id,
    )
    .fetch_all(db)
    .await?)
}

/// The ids of the user's sessions that are not deleted.
pub async fn live_ids_of_user(db: &PgPool, user_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT session_id FROM sessions WHERE user_id = $1 AND operational_status <> 'deleted'",
        user_id
    )
    .fetch_all(db)
    .await?)
}
