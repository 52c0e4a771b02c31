//! Sessions (desktops): the look-ups several roles make.
use crate::StoreError;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Who owns the session; None when there is no such session.
pub async fn owner_of(db: &PgPool, kasm_id: Uuid) -> Result<Option<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar!("SELECT user_id FROM kasms WHERE kasm_id = $1", kasm_id)
            .fetch_optional(db)
            .await?,
    )
}

/// How many sessions the user has that are not deleted (on a pool, or inside the caller's
/// transaction when the count must hold until it commits).
pub async fn live_count_of_user(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM kasms WHERE user_id = $1 AND operational_status <> 'deleted'"#,
        user_id
    )
    .fetch_one(db)
    .await?)
}
