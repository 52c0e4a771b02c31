//! User accounts as the admin manages them: validation and password hashing here, the rows
//! in `store::users`.
use super::{password, validate};
use crate::model::{Role, UserRow};
use crate::AppError;
use sqlx::PgPool;
use store::StoreError;
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

impl ValidProfile {
    fn as_stored(&self) -> store::users::Profile<'_> {
        store::users::Profile {
            first_name: &self.first_name,
            last_name: &self.last_name,
            organization: &self.organization,
            role: self.role.as_str(),
        }
    }
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
    let rows = store::users::search(db, search).await?;
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
            groups: row.groups,
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
    Ok(store::users::create(db, &username, &hash, profile.as_stored()).await?)
}

pub async fn update(db: &PgPool, user_id: Uuid, edit: UserEdit) -> Result<(), AppError> {
    let profile = validate_profile(
        &edit.first_name,
        &edit.last_name,
        &edit.organization,
        &edit.role,
    )?;
    store::users::update_profile(db, user_id, profile.as_stored())
        .await
        .map_err(no_such_user)
}

/// Disables or enables an account; disabling ends its sign-ins at once.
pub async fn set_disabled(db: &PgPool, user_id: Uuid, disabled: bool) -> Result<(), AppError> {
    store::users::set_disabled(db, user_id, disabled)
        .await
        .map_err(no_such_user)?;
    if disabled {
        store::sign_ins::end_all_of_user(db, user_id, None).await?;
    }
    Ok(())
}

pub async fn delete(db: &PgPool, user_id: Uuid) -> Result<(), AppError> {
    store::users::delete(db, user_id)
        .await
        .map_err(no_such_user)
}

/// Sets a new password (already validated) and records when.
pub async fn store_password(
    db: &PgPool,
    user_id: Uuid,
    new_password: &str,
) -> Result<(), AppError> {
    let hash = password::hash(new_password.to_owned()).await?;
    store::users::set_password_hash(db, user_id, &hash)
        .await
        .map_err(no_such_user)
}

/// An admin's password reset: the user's sign-ins end.
pub async fn reset_password(
    db: &PgPool,
    user_id: Uuid,
    new_password: &str,
) -> Result<(), AppError> {
    validate::password("new_password", new_password)?;
    store_password(db, user_id, new_password).await?;
    Ok(store::sign_ins::end_all_of_user(db, user_id, None).await?)
}

pub async fn username_of(db: &PgPool, user_id: Uuid) -> Result<String, AppError> {
    store::users::username_of(db, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))
}

/// The store's "not found" in the words the admin pages have always shown.
fn no_such_user(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound(_) => AppError::NotFound("No such user.".into()),
        other => other.into(),
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
    if store::users::any_exist(db).await? {
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
