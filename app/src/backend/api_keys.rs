//! Developer API keys: made by an administrator, the secret shown once and stored hashed.
use super::{db_error, password};
use crate::model::ApiKeyRow;
use crate::AppError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The permissions a key can be granted.
pub use crate::model::API_PERMISSIONS as PERMISSIONS;

/// A verified key, as a request presents it.
#[derive(Debug, Clone)]
pub struct Key {
    pub api_key_id: Uuid,
    pub permissions: Vec<String>,
    pub read_only: bool,
}

impl Key {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

fn random(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Creates a key; returns (api_key, api_key_secret). The secret is not stored.
pub async fn create(
    db: &PgPool,
    name: &str,
    permissions: &[String],
    read_only: bool,
    expires: Option<DateTime<Utc>>,
    created_by: Uuid,
) -> Result<(String, String), AppError> {
    let name = super::validate::text("name", name, 100)?;
    if name.is_empty() {
        return Err(AppError::invalid("name", "Give the key a name."));
    }
    if let Some(unknown) = permissions
        .iter()
        .find(|p| !PERMISSIONS.contains(&p.as_str()))
    {
        return Err(AppError::invalid(
            "permissions",
            format!("Unknown permission '{unknown}'."),
        ));
    }
    let (api_key, secret) = (random(12), random(32));
    let hash = password::hash(secret.clone()).await?;
    sqlx::query!(
        r#"INSERT INTO api_keys (api_key_id, name, api_key, secret_hash, permissions, read_only, expires, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        Uuid::new_v4(),
        name,
        api_key,
        hash,
        permissions,
        read_only,
        expires,
        created_by,
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    Ok((api_key, secret))
}

/// Why a key was refused (the API answers 403 "Unauthorized" for all of them).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    WrongSecret,
    Revoked,
    Expired,
}

pub async fn verify(
    db: &PgPool,
    api_key: &str,
    secret: &str,
) -> Result<Result<Key, Refused>, AppError> {
    let row = sqlx::query!(
        "SELECT api_key_id, secret_hash, permissions, read_only, revoked, expires < now() AS expired FROM api_keys WHERE api_key = $1",
        api_key
    )
    .fetch_optional(db)
    .await
    .map_err(db_error)?;
    let hash = row.as_ref().map(|row| row.secret_hash.clone());
    let matches = password::verify(secret.to_owned(), hash).await;
    let Some(row) = row else {
        return Ok(Err(Refused::Unknown));
    };
    if !matches {
        return Ok(Err(Refused::WrongSecret));
    }
    if row.revoked {
        return Ok(Err(Refused::Revoked));
    }
    if row.expired == Some(true) {
        return Ok(Err(Refused::Expired));
    }
    let _ = sqlx::query!(
        "UPDATE api_keys SET last_used = now() WHERE api_key_id = $1",
        row.api_key_id
    )
    .execute(db)
    .await;
    Ok(Ok(Key {
        api_key_id: row.api_key_id,
        permissions: row.permissions,
        read_only: row.read_only,
    }))
}

pub async fn revoke(db: &PgPool, api_key_id: Uuid) -> Result<(), AppError> {
    let done = sqlx::query!(
        "UPDATE api_keys SET revoked = true WHERE api_key_id = $1",
        api_key_id
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound("No such key.".into()));
    }
    Ok(())
}

pub async fn list(db: &PgPool) -> Result<Vec<ApiKeyRow>, AppError> {
    let rows = sqlx::query!(
        "SELECT api_key_id, name, api_key, permissions, read_only, expires, revoked, last_used FROM api_keys ORDER BY created DESC"
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?;
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    Ok(rows
        .into_iter()
        .map(|row| ApiKeyRow {
            api_key_id: row.api_key_id,
            name: row.name,
            api_key: row.api_key,
            permissions: row.permissions,
            read_only: row.read_only,
            expires: row.expires.map(time),
            revoked: row.revoked,
            last_used: row.last_used.map(time),
        })
        .collect())
}
