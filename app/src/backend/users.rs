//! User accounts as the admin manages them.
use super::{auth, db_error, password, validate};
use crate::model::{Role, UserRow};
use crate::AppError;
use sqlx::PgPool;
use uuid::Uuid;

/// What the admin fills in to create a user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: String,
    pub role: String,
}

/// The editable profile fields.
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub first_name: String,
    pub last_name: String,
    pub organization: String,
    pub role: String,
}

struct ValidProfile {
    first_name: String,
    last_name: String,
    organization: String,
    role: Role,
}

fn validate_profile(
    first: &str,
    last: &str,
    organization: &str,
    role: &str,
) -> Result<ValidProfile, AppError> {
    Ok(ValidProfile {
        first_name: validate::text("first_name", first, 100)?,
        last_name: validate::text("last_name", last, 100)?,
        organization: validate::text("organization", organization, 200)?,
        role: validate::role(role)?,
    })
}

fn format_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%d %H:%M").to_string()
}

/// Users whose username or name contains `search` (case-insensitive), by username.
pub async fn list(db: &PgPool, search: &str) -> Result<Vec<UserRow>, AppError> {
    let pattern = format!(
        "%{}%",
        search
            .trim()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = sqlx::query!(
        r#"SELECT user_id, username, first_name, last_name, organization, role, disabled, created, last_session
           FROM users
           WHERE username ILIKE $1 OR first_name ILIKE $1 OR last_name ILIKE $1 OR organization ILIKE $1
           ORDER BY lower(username)
           LIMIT 500"#,
        pattern,
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| UserRow {
            user_id: row.user_id,
            username: row.username,
            first_name: row.first_name,
            last_name: row.last_name,
            organization: row.organization,
            role: Role::parse(&row.role).unwrap_or(Role::User),
            disabled: row.disabled,
            created: format_time(row.created),
            last_session: row.last_session.map(format_time),
        })
        .collect())
}

pub async fn create(db: &PgPool, new: NewUser) -> Result<Uuid, AppError> {
    let username = validate::username(&new.username)?;
    validate::password("password", &new.password)?;
    let profile = validate_profile(
        &new.first_name,
        &new.last_name,
        &new.organization,
        &new.role,
    )?;
    let hash = password::hash(new.password).await?;
    let user_id = Uuid::new_v4();
    sqlx::query!(
        r#"INSERT INTO users (user_id, username, password_hash, first_name, last_name, organization, role, password_set_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())"#,
        user_id,
        username,
        hash,
        profile.first_name,
        profile.last_name,
        profile.organization,
        profile.role.as_str(),
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    Ok(user_id)
}

pub async fn update(db: &PgPool, user_id: Uuid, edit: UserEdit) -> Result<(), AppError> {
    let profile = validate_profile(
        &edit.first_name,
        &edit.last_name,
        &edit.organization,
        &edit.role,
    )?;
    let done = sqlx::query!(
        "UPDATE users SET first_name = $2, last_name = $3, organization = $4, role = $5 WHERE user_id = $1",
        user_id,
        profile.first_name,
        profile.last_name,
        profile.organization,
        profile.role.as_str(),
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    found(done.rows_affected())
}

/// Disables or enables an account; disabling ends its sign-ins at once.
pub async fn set_disabled(db: &PgPool, user_id: Uuid, disabled: bool) -> Result<(), AppError> {
    let done = sqlx::query!(
        "UPDATE users SET disabled = $2 WHERE user_id = $1",
        user_id,
        disabled
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    found(done.rows_affected())?;
    if disabled {
        auth::end_sessions(db, user_id, None).await?;
    }
    Ok(())
}

pub async fn delete(db: &PgPool, user_id: Uuid) -> Result<(), AppError> {
    let done = sqlx::query!("DELETE FROM users WHERE user_id = $1", user_id)
        .execute(db)
        .await
        .map_err(db_error)?;
    found(done.rows_affected())
}

/// Sets a new password (already validated) and records when.
pub async fn store_password(
    db: &PgPool,
    user_id: Uuid,
    new_password: &str,
) -> Result<(), AppError> {
    let hash = password::hash(new_password.to_owned()).await?;
    let done = sqlx::query!(
        "UPDATE users SET password_hash = $2, password_set_date = now() WHERE user_id = $1",
        user_id,
        hash,
    )
    .execute(db)
    .await
    .map_err(db_error)?;
    found(done.rows_affected())
}

/// An admin's password reset: the user's sign-ins end.
pub async fn reset_password(
    db: &PgPool,
    user_id: Uuid,
    new_password: &str,
) -> Result<(), AppError> {
    validate::password("new_password", new_password)?;
    store_password(db, user_id, new_password).await?;
    auth::end_sessions(db, user_id, None).await
}

pub async fn username_of(db: &PgPool, user_id: Uuid) -> Result<String, AppError> {
    store::users::username_of(db, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))
}

fn found(rows: u64) -> Result<(), AppError> {
    if rows == 0 {
        Err(AppError::NotFound("No such user.".into()))
    } else {
        Ok(())
    }
}

/// What the first start did about the administrator account.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstAdmin {
    /// Users existed already; nothing was created.
    Existing,
    /// `admin` was created with the configured password.
    Created,
    /// `admin` was created with this generated password, to be shown once.
    Generated(String),
}

/// Creates the `admin` account when there are no users yet.
pub async fn ensure_first_admin(
    db: &PgPool,
    configured_password: Option<String>,
) -> Result<FirstAdmin, AppError> {
    let any = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "any!""#)
        .fetch_one(db)
        .await
        .map_err(db_error)?;
    if any {
        return Ok(FirstAdmin::Existing);
    }
    let generated = configured_password.is_none();
    let password = configured_password.unwrap_or_else(password::generate);
    create(
        db,
        NewUser {
            username: "admin".into(),
            password: password.clone(),
            first_name: "Administrator".into(),
            role: "admin".into(),
            ..NewUser::default()
        },
    )
    .await?;
    Ok(if generated {
        FirstAdmin::Generated(password)
    } else {
        FirstAdmin::Created
    })
}
