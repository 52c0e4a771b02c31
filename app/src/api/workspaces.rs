//! Server function listing the workspaces the signed-in user may launch.
use crate::model::Workspace;
use crate::AppError;
use leptos::prelude::*;

/// The workspaces the signed-in user may launch.
#[server(prefix = "/rpc", endpoint = "list_workspaces")]
pub async fn list_workspaces() -> Result<Vec<Workspace>, AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    backend::workspaces::list_enabled(&backend::app_state().db, user.user_id).await
}
