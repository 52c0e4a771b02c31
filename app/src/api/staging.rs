//! Admin → Staging: the warm pool's configs. Every function here requires an administrator.
use crate::model::StagingRow;
use crate::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "admin/list_staging")]
pub async fn list_staging() -> Result<Vec<StagingRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::staging::list(&backend::app_state().db).await
}

/// Creates (empty `staging_config_id`) or edits a staging config.
#[server(prefix = "/rpc", endpoint = "admin/save_staging")]
pub async fn save_staging(
    staging_config_id: String,
    image_id: String,
    server_id: String,
    desired: String,
    expiry: String,
) -> Result<String, AppError> {
    use crate::backend::{self, staging::StagingForm};
    let admin = backend::auth::require_admin().await?;
    let db = backend::app_state().db;
    let id = match staging_config_id.trim() {
        "" => None,
        text => Some(backend::validate::uuid("staging_config_id", text)?),
    };
    let form = StagingForm {
        image_id,
        server_id,
        desired,
        expiry,
    };
    let saved = backend::staging::save(&db, id, &form).await?;
    let action = if id.is_some() {
        "update_staging_config"
    } else {
        "create_staging_config"
    };
    backend::audit::ok(&db, admin.user_id, action, saved.to_string()).await;
    Ok(saved.to_string())
}

#[server(prefix = "/rpc", endpoint = "admin/delete_staging")]
pub async fn delete_staging(staging_config_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("staging_config_id", &staging_config_id)?;
    let db = backend::app_state().db;
    backend::staging::delete(&db, id).await?;
    backend::audit::ok(&db, admin.user_id, "delete_staging_config", id.to_string()).await;
    Ok(())
}
