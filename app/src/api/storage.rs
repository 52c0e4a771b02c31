//! Server functions of persistent profiles and volume mappings (administrators only): an
//! image's storage settings, a user's profiles and their deletion.
use crate::model::{ImageStorageRow, ProfileRow};
use crate::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "admin/image_storage")]
pub async fn image_storage(image_id: String) -> Result<ImageStorageRow, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    let image_id = backend::validate::uuid("image_id", &image_id)?;
    let storage = store::profiles::image_storage(&backend::app_state().db, image_id).await?;
    Ok(ImageStorageRow {
        persistent_profile_path: storage.persistent_profile_path,
        volume_mappings: serde_json::to_string_pretty(&storage.volume_mappings).unwrap_or_default(),
    })
}

/// Sets an image's profile location (relative to each agent's profile root) and volume
/// mappings (Kasm's JSON object).
#[server(prefix = "/rpc", endpoint = "admin/save_image_storage")]
pub async fn save_image_storage(
    image_id: String,
    persistent_profile_path: String,
    volume_mappings: String,
) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let image_id = backend::validate::uuid("image_id", &image_id)?;
    let db = backend::app_state().db;
    backend::storage::save_image_storage(&db, image_id, &persistent_profile_path, &volume_mappings)
        .await?;
    backend::audit::ok(
        &db,
        admin.user_id,
        "update_image_storage",
        image_id.to_string(),
    )
    .await;
    Ok(())
}

/// The workspaces whose launch offers the signed-in user a profile mode.
#[server(prefix = "/rpc", endpoint = "sessions/profile_workspaces")]
pub async fn profile_workspaces() -> Result<Vec<String>, AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    backend::storage::profile_workspaces(&backend::app_state().db, user.user_id).await
}

#[server(prefix = "/rpc", endpoint = "admin/user_profiles")]
pub async fn user_profiles(user_id: String) -> Result<Vec<ProfileRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    let user_id = backend::validate::uuid("user_id", &user_id)?;
    backend::storage::profiles_of(&backend::app_state().db, user_id).await
}

/// Deletes every persistent profile of the user on every agent host (refused while a session
/// uses one); answers how many were deleted.
#[server(prefix = "/rpc", endpoint = "admin/delete_user_profiles")]
pub async fn delete_user_profiles(user_id: String) -> Result<usize, AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let user_id = backend::validate::uuid("user_id", &user_id)?;
    let state = backend::app_state();
    let deleted = state.sessions.delete_profiles(user_id).await?;
    backend::audit::ok(
        &state.db,
        admin.user_id,
        "delete_user_profiles",
        user_id.to_string(),
    )
    .await;
    Ok(deleted)
}
