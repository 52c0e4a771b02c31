//! One-time sign-in links of the Developer API (`kasm_url`). They live in Redis, not in the
//! database: handing one out (every `get_kasm_status` of a running session does) costs no
//! database write. One key per user and session holds the current token's SHA-256 (never the
//! token) and the share id it joins under; a new token replaces it, Redis expires it, and
//! redeeming takes it out, so a token works once.
use crate::StoreError;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use uuid::Uuid;

/// The key of `user_id`'s current link to `session_id`.
fn key(prefix: &str, user_id: Uuid, session_id: Uuid) -> String {
    format!(
        "{prefix}connect:{}:{}",
        user_id.simple(),
        session_id.simple()
    )
}

/// What the key holds: the token's hash in hex, then `|share_id` when it joins as a viewer.
fn value(token_hash: &[u8], share_id: Option<&str>) -> String {
    let hash = hex(token_hash);
    match share_id {
        Some(share_id) => format!("{hash}|{share_id}"),
        None => hash,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A new token for `user_id` on `session_id` (as viewer of `share_id` when given), valid for
/// `lifetime_secs`; it replaces the one issued before.
pub async fn replace(
    redis: &mut ConnectionManager,
    prefix: &str,
    token_hash: &[u8],
    user_id: Uuid,
    session_id: Uuid,
    share_id: Option<&str>,
    lifetime_secs: u64,
) -> Result<(), StoreError> {
    redis::cmd("SET")
        .arg(key(prefix, user_id, session_id))
        .arg(value(token_hash, share_id))
        .arg("EX")
        .arg(lifetime_secs.max(1))
        .query_async::<()>(redis)
        .await?;
    Ok(())
}

/// Takes the key out only when it holds this token (a wrong guess leaves the real one alone),
/// answering what it held.
const TAKE: &str = r"
local held = redis.call('GET', KEYS[1])
if not held or string.sub(held, 1, string.len(ARGV[1])) ~= ARGV[1] then return false end
local rest = string.sub(held, string.len(ARGV[1]) + 1)
if rest ~= '' and string.sub(rest, 1, 1) ~= '|' then return false end
redis.call('DEL', KEYS[1])
return held";

/// A token taken out (used up whatever follows).
#[derive(Debug, Clone)]
pub struct Taken {
    pub share_id: Option<String>,
}

/// Takes the current, unexpired token for this kasm and user if it is `token_hash`; None
/// when it is not (used, replaced, expired, or never issued).
pub async fn take(
    redis: &mut ConnectionManager,
    prefix: &str,
    token_hash: &[u8],
    session_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Taken>, StoreError> {
    let hash = hex(token_hash);
    let held: Option<String> = redis::cmd("EVAL")
        .arg(TAKE)
        .arg(1)
        .arg(key(prefix, user_id, session_id))
        .arg(&hash)
        .query_async(redis)
        .await?;
    Ok(held.map(|held| Taken {
        share_id: held
            .get(hash.len() + 1..)
            .filter(|share_id| !share_id.is_empty())
            .map(str::to_owned),
    }))
}

/// Whether the account may be signed into by a link: it exists and is neither disabled nor
/// locked.
pub async fn account_usable(db: &PgPool, user_id: Uuid) -> Result<bool, StoreError> {
    let usable = sqlx::query_scalar!(
        r#"SELECT NOT (disabled OR locked) AS "usable!" FROM users WHERE user_id = $1"#,
        user_id
    )
    .fetch_optional(db)
    .await?;
    Ok(usable.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_holds_the_hash_and_the_share_id() {
        assert_eq!(value(&[0xab, 0x01], None), "ab01");
        assert_eq!(value(&[0xab, 0x01], Some("s1")), "ab01|s1");
    }
}
