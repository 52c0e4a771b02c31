//! Admin → Servers: agents' own credentials (add an agent, issue it a new credential, revoke
//! it). A credential is in the answer once and nowhere else.
use crate::model::NewAgentCredential;
use crate::AppError;
use leptos::prelude::*;

/// Registers an agent under `name` and answers its credential.
#[server(prefix = "/rpc", endpoint = "admin/add_server")]
pub async fn add_server(name: String) -> Result<NewAgentCredential, AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let db = backend::app_state().db;
    let issued = backend::agent_credentials::add(&db, &name).await?;
    let target = format!("{} {}", issued.server_id, issued.name);
    backend::audit::ok(&db, admin.user_id, "add_server", target).await;
    Ok(issued)
}

/// A new credential for a registered agent; its previous one stops working.
#[server(prefix = "/rpc", endpoint = "admin/issue_server_credential")]
pub async fn issue_server_credential(server_id: String) -> Result<NewAgentCredential, AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("server_id", &server_id)?;
    let db = backend::app_state().db;
    let issued = backend::agent_credentials::reissue(&db, id).await?;
    backend::audit::ok(
        &db,
        admin.user_id,
        "issue_server_credential",
        id.to_string(),
    )
    .await;
    Ok(issued)
}

/// Takes an agent's credential away: it can no longer check in.
#[server(prefix = "/rpc", endpoint = "admin/revoke_server_credential")]
pub async fn revoke_server_credential(server_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("server_id", &server_id)?;
    let db = backend::app_state().db;
    backend::agent_credentials::revoke(&db, id).await?;
    backend::audit::ok(
        &db,
        admin.user_id,
        "revoke_server_credential",
        id.to_string(),
    )
    .await;
    Ok(())
}
