//! Admin → Users. Every function here requires an administrator.
use crate::model::UserRow;
use crate::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "admin/list_users")]
pub async fn list_users(search: String) -> Result<Vec<UserRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::users::list(&backend::app_state().db, &search).await
}

#[server(prefix = "/rpc", endpoint = "admin/create_user")]
pub async fn create_user(
    username: String,
    password: String,
    first_name: String,
    last_name: String,
    organization: String,
    role: String,
) -> Result<String, AppError> {
    use crate::backend::{self, users::NewUser};
    let admin = backend::auth::require_admin().await?;
    let db = backend::app_state().db;
    let new = NewUser {
        username,
        password,
        first_name,
        last_name,
        organization,
        role,
    };
    let user_id = backend::users::create(&db, new.clone()).await?;
    backend::audit::ok(&db, admin.user_id, "create_user", new.username.trim()).await;
    Ok(user_id.to_string())
}

#[server(prefix = "/rpc", endpoint = "admin/update_user")]
pub async fn update_user(
    user_id: String,
    first_name: String,
    last_name: String,
    organization: String,
    role: String,
) -> Result<(), AppError> {
    use crate::backend::{self, users::UserEdit};
    let admin = backend::auth::require_admin().await?;
    let user_id = backend::validate::uuid("user_id", &user_id)?;
    if user_id == admin.user_id && role != "admin" {
        return Err(AppError::invalid(
            "role",
            "You cannot remove your own administrator role.",
        ));
    }
    let db = backend::app_state().db;
    let edit = UserEdit {
        first_name,
        last_name,
        organization,
        role,
    };
    backend::users::update(&db, user_id, edit).await?;
    backend::audit::ok(&db, admin.user_id, "update_user", user_id.to_string()).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/set_user_disabled")]
pub async fn set_user_disabled(user_id: String, disabled: bool) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let user_id = backend::validate::uuid("user_id", &user_id)?;
    if user_id == admin.user_id && disabled {
        return Err(AppError::invalid(
            "user_id",
            "You cannot disable your own account.",
        ));
    }
    let db = backend::app_state().db;
    backend::users::set_disabled(&db, user_id, disabled).await?;
    let action = if disabled {
        "disable_user"
    } else {
        "enable_user"
    };
    backend::audit::ok(&db, admin.user_id, action, user_id.to_string()).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/delete_user")]
pub async fn delete_user(user_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let user_id = backend::validate::uuid("user_id", &user_id)?;
    if user_id == admin.user_id {
        return Err(AppError::invalid(
            "user_id",
            "You cannot delete your own account.",
        ));
    }
    let db = backend::app_state().db;
    let username = backend::users::username_of(&db, user_id).await?;
    backend::users::delete(&db, user_id).await?;
    backend::audit::ok(&db, admin.user_id, "delete_user", username).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/reset_password")]
pub async fn reset_password(user_id: String, new_password: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let user_id = backend::validate::uuid("user_id", &user_id)?;
    let db = backend::app_state().db;
    backend::users::reset_password(&db, user_id, &new_password).await?;
    backend::audit::ok(&db, admin.user_id, "reset_password", user_id.to_string()).await;
    Ok(())
}
