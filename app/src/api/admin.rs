//! Admin → Images, Servers, Sessions. Every function here requires an administrator.
// A form's fields arrive as arguments (save_image has one per field).
#![allow(clippy::too_many_arguments)]
use crate::model::{AdminSessionRow, ImageRow, ServerRow};
use crate::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "admin/list_images")]
pub async fn list_images() -> Result<Vec<ImageRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::images::list(&backend::app_state().db).await
}

/// Registers (empty `image_id`) or edits an image.
#[server(prefix = "/rpc", endpoint = "admin/save_image")]
pub async fn save_image(
    image_id: String,
    friendly_name: String,
    name: String,
    description: String,
    image_src: String,
    categories: String,
    cores: String,
    memory: String,
    network_mode: String,
    enabled: Option<String>,
    run_config: String,
) -> Result<String, AppError> {
    use crate::backend::{self, images::ImageInput};
    let admin = backend::auth::require_admin().await?;
    let db = backend::app_state().db;
    let input = ImageInput {
        friendly_name,
        name,
        description,
        image_src,
        categories,
        cores,
        memory,
        network_mode,
        enabled: enabled.is_some_and(|v| v == "on" || v == "true"),
        run_config,
    };
    let id = if image_id.trim().is_empty() {
        let id = backend::images::create(&db, &input).await?;
        backend::audit::ok(
            &db,
            admin.user_id,
            "create_image",
            input.friendly_name.trim(),
        )
        .await;
        id
    } else {
        let id = backend::validate::uuid("image_id", &image_id)?;
        backend::images::update(&db, id, &input).await?;
        backend::audit::ok(&db, admin.user_id, "update_image", id.to_string()).await;
        id
    };
    Ok(id.to_string())
}

#[server(prefix = "/rpc", endpoint = "admin/set_image_enabled")]
pub async fn set_image_enabled(image_id: String, enabled: bool) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("image_id", &image_id)?;
    let db = backend::app_state().db;
    backend::images::set_enabled(&db, id, enabled).await?;
    let action = if enabled {
        "enable_image"
    } else {
        "disable_image"
    };
    backend::audit::ok(&db, admin.user_id, action, id.to_string()).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/delete_image")]
pub async fn delete_image(image_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("image_id", &image_id)?;
    let db = backend::app_state().db;
    backend::images::delete(&db, id).await?;
    backend::audit::ok(&db, admin.user_id, "delete_image", id.to_string()).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/list_servers")]
pub async fn list_servers() -> Result<Vec<ServerRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::servers::list(&backend::app_state()).await
}

#[server(prefix = "/rpc", endpoint = "admin/set_server_flags")]
pub async fn set_server_flags(
    server_id: String,
    enabled: bool,
    draining: bool,
) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("server_id", &server_id)?;
    let db = backend::app_state().db;
    backend::servers::set_flags(&db, id, enabled, draining).await?;
    let target = format!("{id} enabled={enabled} draining={draining}");
    backend::audit::ok(&db, admin.user_id, "update_server", target).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/set_server_overrides")]
pub async fn set_server_overrides(
    server_id: String,
    cores: String,
    memory: String,
) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("server_id", &server_id)?;
    let db = backend::app_state().db;
    backend::servers::set_overrides(&db, id, &cores, &memory).await?;
    backend::audit::ok(&db, admin.user_id, "server_overrides", id.to_string()).await;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/list_sessions")]
pub async fn list_all_sessions(include_deleted: bool) -> Result<Vec<AdminSessionRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::admin_sessions::list(&backend::app_state().db, include_deleted).await
}

#[server(prefix = "/rpc", endpoint = "admin/destroy_session")]
pub async fn destroy_any_session(session_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("session_id", &session_id)?;
    let state = backend::app_state();
    state.sessions.destroy(id).await?;
    backend::audit::ok(
        &state.db,
        admin.user_id,
        "admin_destroy_session",
        id.to_string(),
    )
    .await;
    Ok(())
}

/// Admin → Metrics: the deployment now and the last hour's launches.
#[server(prefix = "/rpc", endpoint = "admin/metrics_overview")]
pub async fn metrics_overview() -> Result<crate::model::MetricsOverview, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::monitoring::overview(&backend::app_state().db).await
}
