//! Browser sign-ins (the `sign_ins` table): one row per signed-in browser, keyed by the hash
//! of its cookie token (the token itself is never stored). Not to be confused with sessions,
//! which are desktops.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The user behind a live sign-in (`role` as stored: "admin" or "user").
#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub user_id: Uuid,
    pub username: String,
    pub role: String,
}

/// Records a sign-in until `expires`, and the time on the user's account.
pub async fn open(
    db: &PgPool,
    token_hash: &[u8],
    user_id: Uuid,
    expires: DateTime<Utc>,
    user_agent: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO sign_ins (token_hash, user_id, expires, user_agent) VALUES ($1, $2, $3, $4)",
        token_hash,
        user_id,
        expires,
        user_agent,
    )
    .execute(db)
    .await?;
    sqlx::query!(
        "UPDATE users SET last_session = now() WHERE user_id = $1",
        user_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The user of a sign-in that has not expired, while the account is neither disabled nor locked.
pub async fn user_of(db: &PgPool, token_hash: &[u8]) -> Result<Option<SignedInUser>, StoreError> {
    Ok(sqlx::query_as!(
        SignedInUser,
        r#"SELECT u.user_id, u.username, u.role
           FROM sign_ins s JOIN users u ON u.user_id = s.user_id
           WHERE s.token_hash = $1 AND s.expires > now() AND NOT u.disabled AND NOT u.locked"#,
        token_hash,
    )
    .fetch_optional(db)
    .await?)
}

/// Ends one sign-in (nothing happens if it has ended already).
pub async fn end(db: &PgPool, token_hash: &[u8]) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM sign_ins WHERE token_hash = $1", token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every sign-in of a user except, optionally, the one with the hash `keep`.
pub async fn end_all_of_user(
    db: &PgPool,
    user_id: Uuid,
    keep: Option<&[u8]>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM sign_ins WHERE user_id = $1 AND token_hash <> $2",
        user_id,
        keep.unwrap_or_default(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes expired sign-ins; returns how many.
pub async fn purge_expired(db: &PgPool) -> Result<u64, StoreError> {
    let done = sqlx::query!("DELETE FROM sign_ins WHERE expires <= now()")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
