//! Whether the database answers (readiness).
use crate::StoreError;
use sqlx::PgPool;

/// A trivial query, answered or not.
pub async fn ping(db: &PgPool) -> Result<(), StoreError> {
    sqlx::query_scalar!("SELECT 1 AS one").fetch_one(db).await?;
    Ok(())
}
