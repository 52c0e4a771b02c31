//! Developer API keys: made by an administrator, the secret shown once and stored hashed (by
//! `store::api_keys`); verifying a presented key and its secret.
use super::password;
use crate::model::ApiKeyRow;
use crate::AppError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

/// The permissions a key can be granted.
pub use crate::model::API_PERMISSIONS as PERMISSIONS;

/// A verified key, as a request presents it.
#[derive(Debug, Clone)]
pub struct Key {
    pub api_key_id: Uuid,
    pub permissions: Vec<String>,
    pub read_only: bool,
    /// The role of the user the call names as its target, read with the key (None: the
    /// caller named none, or there is no such user).
    pub target_role: Option<String>,
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
    let key = store::api_keys::NewKey {
        name: &name,
        api_key: &api_key,
        secret_hash: &hash,
        permissions,
        read_only,
        expires,
        created_by,
    };
    store::api_keys::create(db, key).await?;
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

/// Secrets already checked against their stored Argon2 hash, as SHA-256 digests keyed by that
/// hash: integrations call many times a minute, and one Argon2 verification costs tens of
/// milliseconds. Revocation, expiry and permissions are still read from the database on
/// every call; only the hash comparison is skipped.
static VERIFIED: std::sync::LazyLock<std::sync::Mutex<HashMap<String, [u8; 32]>>> =
    std::sync::LazyLock::new(Default::default);

const VERIFIED_MAX: usize = 10_000;

fn digest(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

fn verified_before(hash: &str, secret: &str) -> bool {
    let cache = VERIFIED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache.get(hash) == Some(&digest(secret))
}

fn remember_verified(hash: String, secret: &str) {
    let mut cache = VERIFIED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() >= VERIFIED_MAX {
        cache.clear();
    }
    cache.insert(hash, digest(secret));
}

/// When this process last noted each key's use (`store::api_keys::mark_used` keeps it to the
/// minute): a key polled many times a second costs no query a call for it.
static MARKED: std::sync::LazyLock<std::sync::Mutex<HashMap<Uuid, std::time::Instant>>> =
    std::sync::LazyLock::new(Default::default);

const MARK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether the key's use is to be noted now (and if so, it counts as noted).
fn due_for_mark(api_key_id: Uuid) -> bool {
    let now = std::time::Instant::now();
    let mut marked = MARKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if marked
        .get(&api_key_id)
        .is_some_and(|at| now - *at < MARK_EVERY)
    {
        return false;
    }
    if marked.len() >= VERIFIED_MAX {
        marked.clear();
    }
    marked.insert(api_key_id, now);
    true
}

/// Per key (by its hash), the right to verify a secret now.
static TURNS: std::sync::LazyLock<
    std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
> = std::sync::LazyLock::new(Default::default);

fn verification_turn(hash: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    let mut turns = TURNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if turns.len() >= VERIFIED_MAX {
        turns.clear();
    }
    turns.entry(hash.to_owned()).or_default().clone()
}

/// Checks a key and its secret; the key's state (revoked, expired) is read afresh each time,
/// in the same query as the role of `target_user` (the user the call acts on, if any).
/// An unknown key is refused at once; a known one's secret is verified with Argon2 unless it
/// was verified before, and `before_argon2` may refuse first (a limit on failures reserves
/// its count there, so that parallel guesses cannot all get past it).
pub async fn verify<F, Fut>(
    db: &PgPool,
    api_key: &str,
    secret: &str,
    target_user: Option<Uuid>,
    before_argon2: F,
) -> Result<Result<Key, Refused>, AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let row = store::api_keys::for_verification(db, api_key, target_user).await?;
    // An unknown key costs no Argon2: key ids are not secret (a wrong secret is what a
    // guessing caller must not learn cheaply, and that still takes a full verification).
    let Some(row) = row else {
        return Ok(Err(Refused::Unknown));
    };
    // One verification per key at a time: a burst of calls with a key not yet verified waits
    // for the first instead of paying (and being limited) once per call.
    let turn = verification_turn(&row.secret_hash);
    let _turn = turn.lock().await;
    let matches = verified_before(&row.secret_hash, secret) || {
        before_argon2().await?;
        let matches = password::verify(secret.to_owned(), Some(row.secret_hash.clone())).await;
        if matches {
            remember_verified(row.secret_hash.clone(), secret);
        }
        matches
    };
    if !matches {
        return Ok(Err(Refused::WrongSecret));
    }
    if row.revoked {
        return Ok(Err(Refused::Revoked));
    }
    if row.expired {
        return Ok(Err(Refused::Expired));
    }
    // Only a note for the admin's list, to the minute: the call goes ahead without it.
    if due_for_mark(row.api_key_id) {
        let _ = store::api_keys::mark_used(db, row.api_key_id).await;
    }
    Ok(Ok(Key {
        api_key_id: row.api_key_id,
        permissions: row.permissions,
        read_only: row.read_only,
        target_role: row.target_role,
    }))
}

pub async fn revoke(db: &PgPool, api_key_id: Uuid) -> Result<(), AppError> {
    store::api_keys::revoke(db, api_key_id)
        .await
        .map_err(|error| match error {
            store::StoreError::NotFound(_) => AppError::NotFound("No such key.".into()),
            other => other.into(),
        })
}

pub async fn list(db: &PgPool) -> Result<Vec<ApiKeyRow>, AppError> {
    let rows = store::api_keys::list(db).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_verified_against_that_hash_skips_argon2() {
        let hash = format!("$argon2id$test-{}", Uuid::new_v4());
        assert!(!verified_before(&hash, "secret"));
        remember_verified(hash.clone(), "secret");
        assert!(verified_before(&hash, "secret"));
        assert!(!verified_before(&hash, "secreT"), "another secret");
        assert!(
            !verified_before(&format!("{hash}x"), "secret"),
            "another key"
        );
    }
}
