//! Admin → Groups, and a user's effective settings. Every function here requires an
//! administrator.
use crate::model::{GroupDetail, GroupMember, GroupRow, UserPolicyView};
use crate::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "admin/list_groups")]
pub async fn list_groups() -> Result<Vec<GroupRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::groups::list(&backend::app_state().db).await
}

/// Creates a group (empty `group_id`) or edits one; answers its id.
#[server(prefix = "/rpc", endpoint = "admin/save_group")]
pub async fn save_group(
    group_id: String,
    name: String,
    description: String,
    priority: String,
) -> Result<String, AppError> {
    use crate::backend::{self, groups::GroupInput};
    let admin = backend::auth::require_admin().await?;
    let db = backend::app_state().db;
    let input = GroupInput {
        name: &name,
        description: &description,
        priority: &priority,
    };
    let id = if group_id.trim().is_empty() {
        let id = backend::groups::create(&db, &input).await?;
        backend::audit::ok(&db, admin.user_id, "create_group", name.trim()).await;
        id
    } else {
        let id = backend::validate::uuid("group_id", &group_id)?;
        backend::groups::update(&db, id, &input).await?;
        backend::audit::ok(&db, admin.user_id, "update_group", id.to_string()).await;
        id
    };
    Ok(id.to_string())
}

#[server(prefix = "/rpc", endpoint = "admin/delete_group")]
pub async fn delete_group(group_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("group_id", &group_id)?;
    let db = backend::app_state().db;
    let name = backend::groups::delete(&db, id).await?;
    backend::audit::ok(&db, admin.user_id, "delete_group", name).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/group")]
pub async fn load_group(group_id: String) -> Result<GroupDetail, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    let id = backend::validate::uuid("group_id", &group_id)?;
    backend::groups::detail(&backend::app_state().db, id).await
}

/// Users who could join the group, by part of their username.
#[server(prefix = "/rpc", endpoint = "admin/group_candidates")]
pub async fn group_candidates(
    group_id: String,
    search: String,
) -> Result<Vec<GroupMember>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    let id = backend::validate::uuid("group_id", &group_id)?;
    backend::groups::candidates(&backend::app_state().db, id, &search).await
}

/// Adds (`member` true) or removes a user, by username.
#[server(prefix = "/rpc", endpoint = "admin/group_member")]
pub async fn set_group_member(
    group_id: String,
    username: String,
    member: bool,
) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("group_id", &group_id)?;
    let db = backend::app_state().db;
    backend::groups::set_member(&db, id, &username, member).await?;
    let action = if member {
        "add_group_member"
    } else {
        "remove_group_member"
    };
    backend::audit::ok(
        &db,
        admin.user_id,
        action,
        format!("{id}/{}", username.trim()),
    )
    .await;
    Ok(())
}

/// Sets one setting of a group (JSON text; empty removes the group's value).
#[server(prefix = "/rpc", endpoint = "admin/group_setting")]
pub async fn set_group_setting(
    group_id: String,
    name: String,
    value: String,
) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("group_id", &group_id)?;
    let db = backend::app_state().db;
    backend::groups::set_setting(&db, id, &name, &value).await?;
    backend::audit::ok(
        &db,
        admin.user_id,
        "set_group_setting",
        format!("{id}/{name}"),
    )
    .await;
    Ok(())
}

/// Assigns a workspace to a group, or takes it away.
#[server(prefix = "/rpc", endpoint = "admin/group_image")]
pub async fn set_group_image(
    group_id: String,
    image_id: String,
    assigned: bool,
) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("group_id", &group_id)?;
    let image_id = backend::validate::uuid("image_id", &image_id)?;
    let db = backend::app_state().db;
    backend::groups::set_image(&db, id, image_id, assigned).await?;
    let action = if assigned {
        "assign_group_image"
    } else {
        "unassign_group_image"
    };
    backend::audit::ok(&db, admin.user_id, action, format!("{id}/{image_id}")).await;
    Ok(())
}

/// A user's groups and effective settings, with where each came from.
#[server(prefix = "/rpc", endpoint = "admin/user_policy")]
pub async fn user_policy(user_id: String) -> Result<UserPolicyView, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    let id = backend::validate::uuid("user_id", &user_id)?;
    backend::groups::user_policy(&backend::app_state().db, id).await
}
