//! Users: the accounts the admin manages and the look-ups every role needs. Passwords arrive
//! here already hashed; validating and hashing them is the caller's business.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A user as the admin's list shows it (`role` as stored: "admin" or "user").
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: Uuid,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: String,
    pub role: String,
    pub disabled: bool,
    pub created: DateTime<Utc>,
    /// When the user last signed in.
    pub last_session: Option<DateTime<Utc>>,
}

/// The fields the admin edits.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub organization: &'a str,
    pub role: &'a str,
}

/// What a sign-in checks a password attempt against.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: Uuid,
    pub username: String,
    pub role: String,
    /// None for an account without a password (it cannot sign in).
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub locked: bool,
}

/// The user's name, None when there is no such user.
pub async fn username_of(db: &PgPool, user_id: Uuid) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar!("SELECT username FROM users WHERE user_id = $1", user_id)
            .fetch_optional(db)
            .await?,
    )
}

/// `text` as an ILIKE pattern matching it anywhere, its wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Users whose username or name contains `search` (case-insensitive), by username; at most 500.
pub async fn search(db: &PgPool, search: &str) -> Result<Vec<UserRecord>, StoreError> {
    Ok(sqlx::query_as!(
        UserRecord,
        r#"SELECT user_id, username, first_name, last_name, organization, role, disabled, created, last_session
           FROM users
           WHERE username ILIKE $1 OR first_name ILIKE $1 OR last_name ILIKE $1 OR organization ILIKE $1
           ORDER BY lower(username)
           LIMIT 500"#,
        contains_pattern(search),
    )
    .fetch_all(db)
    .await?)
}

/// Creates a user with its password set now; returns its id. A taken username (in any case)
/// is a conflict on `username`.
pub async fn create(
    db: &PgPool,
    username: &str,
    password_hash: &str,
    profile: Profile<'_>,
) -> Result<Uuid, StoreError> {
    let user_id = Uuid::new_v4();
    sqlx::query!(
        r#"INSERT INTO users (user_id, username, password_hash, first_name, last_name, organization, role, password_set_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())"#,
        user_id,
        username,
        password_hash,
        profile.first_name,
        profile.last_name,
        profile.organization,
        profile.role,
    )
    .execute(db)
    .await?;
    Ok(user_id)
}

pub async fn update_profile(
    db: &PgPool,
    user_id: Uuid,
    profile: Profile<'_>,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET first_name = $2, last_name = $3, organization = $4, role = $5 WHERE user_id = $1",
        user_id,
        profile.first_name,
        profile.last_name,
        profile.organization,
        profile.role,
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

pub async fn set_disabled(db: &PgPool, user_id: Uuid, disabled: bool) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET disabled = $2 WHERE user_id = $1",
        user_id,
        disabled
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

/// Deletes the user (its sign-ins and sessions go with it).
pub async fn delete(db: &PgPool, user_id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query!("DELETE FROM users WHERE user_id = $1", user_id)
        .execute(db)
        .await?;
    found(done.rows_affected())
}

/// Replaces the password hash and records when.
pub async fn set_password_hash(
    db: &PgPool,
    user_id: Uuid,
    password_hash: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $2, password_set_date = now() WHERE user_id = $1",
        user_id,
        password_hash,
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

/// The user's password hash (None when the account has no password).
pub async fn password_hash_of(db: &PgPool, user_id: Uuid) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar!(
        "SELECT password_hash FROM users WHERE user_id = $1",
        user_id
    )
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound("user"))
}

/// The account a sign-in names, whatever the case of `username`.
pub async fn credentials_by_username(
    db: &PgPool,
    username: &str,
) -> Result<Option<Credentials>, StoreError> {
    Ok(sqlx::query_as!(
        Credentials,
        "SELECT user_id, username, role, password_hash, disabled, locked FROM users WHERE lower(username) = lower($1)",
        username,
    )
    .fetch_optional(db)
    .await?)
}

/// Whether any account exists (the first start creates the administrator when none does).
pub async fn any_exist(db: &PgPool) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "any!""#)
            .fetch_one(db)
            .await?,
    )
}

fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound("user"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_take_wildcards_literally() {
        assert_eq!(contains_pattern(" ann "), "%ann%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
