//! One-time sign-in links of the Developer API (`kasm_url`): only the token's hash is kept,
//! and a token is used up when redeemed.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// A new token for `user_id` on `kasm_id` (as viewer of `share_id` when given), valid for
/// `lifetime_secs`; it replaces the one issued before (expired ones go too), in one
/// transaction.
pub async fn replace(
    db: &PgPool,
    token_hash: &[u8],
    user_id: Uuid,
    kasm_id: Uuid,
    share_id: Option<&str>,
    lifetime_secs: f64,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    sqlx::query!(
        "DELETE FROM connect_tokens WHERE (user_id = $1 AND kasm_id = $2) OR expires < now()",
        user_id,
        kasm_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO connect_tokens (token_hash, user_id, kasm_id, share_id, expires)
           VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))"#,
        token_hash,
        user_id,
        kasm_id,
        share_id,
        lifetime_secs,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A token taken out of the table, with what decides whether it still signs in.
#[derive(Debug, Clone)]
pub struct Taken {
    pub share_id: Option<String>,
    pub live: bool,
    pub disabled: bool,
    pub locked: bool,
}

/// Takes the token for this kasm and user out of the table (used up whatever follows); None
/// when there is none.
pub async fn take(
    db: &PgPool,
    token_hash: &[u8],
    kasm_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Taken>, StoreError> {
    Ok(sqlx::query_as!(
        Taken,
        r#"DELETE FROM connect_tokens t USING users u
           WHERE t.token_hash = $1 AND t.kasm_id = $2 AND t.user_id = $3 AND u.user_id = t.user_id
           RETURNING t.share_id, t.expires > now() AS "live!", u.disabled, u.locked"#,
        token_hash,
        kasm_id,
        user_id,
    )
    .fetch_optional(db)
    .await?)
}
