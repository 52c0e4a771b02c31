//! Agents' credentials as stored on their server rows: only the SHA-256 of each secret, with
//! when it was issued. Making secrets and checking them is the caller's business.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// A server row's name and credential hash (None once revoked).
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub hostname: String,
    pub credential_hash: Option<Vec<u8>>,
}

/// Registers a new agent under `hostname` with its credential's hash; false (and nothing
/// written) when that name is registered already.
pub async fn register(
    db: &PgPool,
    server_id: Uuid,
    hostname: &str,
    credential_hash: &[u8],
) -> Result<bool, StoreError> {
    let inserted = sqlx::query!(
        r#"INSERT INTO servers (server_id, hostname, credential_hash, credential_issued)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (hostname) DO NOTHING"#,
        server_id,
        hostname,
        credential_hash,
    )
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// Replaces a registered agent's credential hash; returns its name.
pub async fn replace(
    db: &PgPool,
    server_id: Uuid,
    credential_hash: &[u8],
) -> Result<String, StoreError> {
    sqlx::query_scalar!(
        r#"UPDATE servers SET credential_hash = $2, credential_issued = now()
           WHERE server_id = $1 RETURNING hostname"#,
        server_id,
        credential_hash,
    )
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound("server"))
}

/// Removes an agent's credential and marks it offline (it cannot check in to say otherwise).
pub async fn revoke(db: &PgPool, server_id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query!(
        r#"UPDATE servers SET credential_hash = NULL, credential_issued = NULL, status = 'offline'
           WHERE server_id = $1"#,
        server_id,
    )
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("server"));
    }
    Ok(())
}

/// Sets the credential hash of the agent named `hostname`, registering it (as
/// `new_server_id`) if it is not yet; returns its server id.
pub async fn register_or_replace(
    db: &PgPool,
    new_server_id: Uuid,
    hostname: &str,
    credential_hash: &[u8],
) -> Result<Uuid, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO servers (server_id, hostname, credential_hash, credential_issued)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (hostname) DO UPDATE
               SET credential_hash = EXCLUDED.credential_hash, credential_issued = now()
           RETURNING server_id"#,
        new_server_id,
        hostname,
        credential_hash,
    )
    .fetch_one(db)
    .await?)
}

/// The name and credential hash of a server row (None when there is no such row).
pub async fn of_server(
    db: &PgPool,
    server_id: Uuid,
) -> Result<Option<StoredCredential>, StoreError> {
    Ok(sqlx::query_as!(
        StoredCredential,
        "SELECT hostname, credential_hash FROM servers WHERE server_id = $1",
        server_id
    )
    .fetch_optional(db)
    .await?)
}
