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
    /// The groups they are a member of, by priority (All Users, which holds everyone, is not
    /// listed).
    pub groups: Vec<String>,
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
        r#"SELECT user_id, username, first_name, last_name, organization, role, disabled, created, last_session,
                  ARRAY(SELECT g.name FROM user_groups ug JOIN groups g ON g.group_id = ug.group_id
                        WHERE ug.user_id = users.user_id ORDER BY g.priority) AS "groups!"
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

/// The id of the user with that name, compared regardless of case; None when there is none.
pub async fn id_by_username(db: &PgPool, username: &str) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT user_id FROM users WHERE lower(username) = lower($1)",
        username
    )
    .fetch_optional(db)
    .await?)
}

/// The user's role (`admin` or `user`), None when there is no such user.
pub async fn role_of(db: &PgPool, user_id: Uuid) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar!("SELECT role FROM users WHERE user_id = $1", user_id)
            .fetch_optional(db)
            .await?,
    )
}

/// What the Developer API may change of a user besides the name and password (its
/// update_user), with the flags the admin page does not show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDetails {
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub organization: String,
    pub locked: bool,
    pub disabled: bool,
}

/// The user's account details, None when there is no such user.
pub async fn account_details_of(
    db: &PgPool,
    user_id: Uuid,
) -> Result<Option<AccountDetails>, StoreError> {
    Ok(sqlx::query_as!(
        AccountDetails,
        "SELECT first_name, last_name, phone, organization, locked, disabled FROM users WHERE user_id = $1",
        user_id
    )
    .fetch_optional(db)
    .await?)
}

/// Replaces the user's details.
pub async fn set_account_details(
    db: &PgPool,
    user_id: Uuid,
    details: &AccountDetails,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE users SET first_name = $2, last_name = $3, phone = $4, organization = $5, locked = $6, disabled = $7 WHERE user_id = $1",
        user_id,
        details.first_name,
        details.last_name,
        details.phone,
        details.organization,
        details.locked,
        details.disabled,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A user as the Developer API lists them.
#[derive(Debug, Clone)]
pub struct ListedUser {
    pub user_id: Uuid,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub organization: String,
    pub locked: bool,
    pub disabled: bool,
    pub created: DateTime<Utc>,
    pub last_session: Option<DateTime<Utc>>,
    pub password_set_date: Option<DateTime<Utc>>,
}

/// Every user by name (regardless of case), or one.
pub async fn listed(db: &PgPool, user_id: Option<Uuid>) -> Result<Vec<ListedUser>, StoreError> {
    Ok(sqlx::query_as!(
        ListedUser,
        r#"SELECT user_id, username, first_name, last_name, phone, organization, locked, disabled, created,
                  last_session, password_set_date
           FROM users WHERE $1::uuid IS NULL OR user_id = $1 ORDER BY lower(username)"#,
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// A user's preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub user_attributes_id: Uuid,
    pub user_id: Uuid,
    pub ssh_public_key: String,
    pub show_tips: bool,
    pub theme: String,
    pub preferred_language: String,
    pub preferred_timezone: String,
    pub toggle_control_panel: bool,
    pub default_image: Option<Uuid>,
    pub auto_login_kasm: bool,
}

/// The user's preferences (a row of defaults is made on first use); None when there is no
/// such user.
pub async fn attributes_of(db: &PgPool, user_id: Uuid) -> Result<Option<Attributes>, StoreError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1) AS "ok!""#,
        user_id
    )
    .fetch_one(db)
    .await?;
    if !exists {
        return Ok(None);
    }
    sqlx::query!(
        "INSERT INTO user_attributes (user_attributes_id, user_id) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        Uuid::new_v4(),
        user_id
    )
    .execute(db)
    .await?;
    Ok(Some(
        sqlx::query_as!(
            Attributes,
            "SELECT user_attributes_id, user_id, ssh_public_key, show_tips, theme, preferred_language,
                    preferred_timezone, toggle_control_panel, default_image, auto_login_kasm
             FROM user_attributes WHERE user_id = $1",
            user_id
        )
        .fetch_one(db)
        .await?,
    ))
}

/// Replaces the preferences of `attributes.user_id` (its row exists: see [`attributes_of`]).
pub async fn set_attributes(db: &PgPool, attributes: &Attributes) -> Result<(), StoreError> {
    sqlx::query!(
        r#"UPDATE user_attributes SET ssh_public_key = $2, show_tips = $3, theme = $4, preferred_language = $5,
               preferred_timezone = $6, toggle_control_panel = $7, default_image = $8, auto_login_kasm = $9
           WHERE user_id = $1"#,
        attributes.user_id,
        attributes.ssh_public_key,
        attributes.show_tips,
        attributes.theme,
        attributes.preferred_language,
        attributes.preferred_timezone,
        attributes.toggle_control_panel,
        attributes.default_image,
        attributes.auto_login_kasm,
    )
    .execute(db)
    .await?;
    Ok(())
}
