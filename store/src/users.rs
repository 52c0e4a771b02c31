//! Users: the look-ups every role needs.
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The user's name, None when there is no such user.
pub async fn username_of(db: &PgPool, user_id: Uuid) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar!("SELECT username FROM users WHERE user_id = $1", user_id)
            .fetch_optional(db)
            .await?,
    )
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

/// What an administrator may change of a user besides the name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub organization: String,
    pub locked: bool,
    pub disabled: bool,
}

/// The user's profile, None when there is no such user.
pub async fn profile_of(db: &PgPool, user_id: Uuid) -> Result<Option<Profile>, StoreError> {
    Ok(sqlx::query_as!(
        Profile,
        "SELECT first_name, last_name, phone, organization, locked, disabled FROM users WHERE user_id = $1",
        user_id
    )
    .fetch_optional(db)
    .await?)
}

/// Replaces the user's profile.
pub async fn set_profile(db: &PgPool, user_id: Uuid, profile: &Profile) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE users SET first_name = $2, last_name = $3, phone = $4, organization = $5, locked = $6, disabled = $7 WHERE user_id = $1",
        user_id,
        profile.first_name,
        profile.last_name,
        profile.phone,
        profile.organization,
        profile.locked,
        profile.disabled,
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
