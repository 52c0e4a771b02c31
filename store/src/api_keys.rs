//! Developer API keys: the key id is public, only an Argon2 hash of the secret is kept.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A key to create (its secret already hashed).
#[derive(Debug, Clone, Copy)]
pub struct NewKey<'a> {
    pub name: &'a str,
    pub api_key: &'a str,
    pub secret_hash: &'a str,
    pub permissions: &'a [String],
    pub read_only: bool,
    pub expires: Option<DateTime<Utc>>,
    pub created_by: Uuid,
}

/// What verifying a presented key needs: its hash and its state now.
#[derive(Debug, Clone)]
pub struct KeyForVerification {
    pub api_key_id: Uuid,
    pub secret_hash: String,
    pub permissions: Vec<String>,
    pub read_only: bool,
    pub revoked: bool,
    pub expired: bool,
    /// The role of the user the call names as its target (None: none named, or no such user).
    pub target_role: Option<String>,
}

/// A key as the admin's list shows it.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub api_key_id: Uuid,
    pub name: String,
    pub api_key: String,
    pub permissions: Vec<String>,
    pub read_only: bool,
    pub expires: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub last_used: Option<DateTime<Utc>>,
}

pub async fn create(db: &PgPool, key: NewKey<'_>) -> Result<Uuid, StoreError> {
    let api_key_id = Uuid::new_v4();
    sqlx::query!(
        r#"INSERT INTO api_keys (api_key_id, name, api_key, secret_hash, permissions, read_only, expires, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        api_key_id,
        key.name,
        key.api_key,
        key.secret_hash,
        key.permissions,
        key.read_only,
        key.expires,
        key.created_by,
    )
    .execute(db)
    .await?;
    Ok(api_key_id)
}

/// The key a request presents, read afresh (None when there is no such key), with the role
/// of the call's target user if it names one (read in the same query).
pub async fn for_verification(
    db: &PgPool,
    api_key: &str,
    target_user: Option<Uuid>,
) -> Result<Option<KeyForVerification>, StoreError> {
    Ok(sqlx::query_as!(
        KeyForVerification,
        r#"SELECT api_key_id, secret_hash, permissions, read_only, revoked,
                  COALESCE(expires < now(), false) AS "expired!",
                  (SELECT role FROM users WHERE user_id = $2) AS target_role
           FROM api_keys WHERE api_key = $1"#,
        api_key,
        target_user
    )
    .fetch_optional(db)
    .await?)
}

/// Notes that the key was just used (to the minute).
pub async fn mark_used(db: &PgPool, api_key_id: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        // To the minute: a key polled many times a second is written once a minute, not on
        // every call.
        "UPDATE api_keys SET last_used = now() WHERE api_key_id = $1 AND (last_used IS NULL OR last_used < now() - interval '1 minute')",
        api_key_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn revoke(db: &PgPool, api_key_id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE api_keys SET revoked = true WHERE api_key_id = $1",
        api_key_id
    )
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("API key"));
    }
    Ok(())
}

/// Every key, newest first.
pub async fn list(db: &PgPool) -> Result<Vec<KeyRecord>, StoreError> {
    Ok(sqlx::query_as!(
        KeyRecord,
        "SELECT api_key_id, name, api_key, permissions, read_only, expires, revoked, last_used FROM api_keys ORDER BY created DESC"
    )
    .fetch_all(db)
    .await?)
}
