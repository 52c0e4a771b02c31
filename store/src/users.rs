//! Users: the look-ups every role needs.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// The user's name, None when there is no such user.
pub async fn username_of(db: &PgPool, user_id: Uuid) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar!("SELECT username FROM users WHERE user_id = $1", user_id)
            .fetch_optional(db)
            .await?,
    )
}
