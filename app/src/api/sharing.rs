//! Sharing a session: the owner's controls and a viewer's joining.
use crate::model::{JoinedSession, SharingView};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
async fn owner_and_session(session_id: &str) -> Result<(uuid::Uuid, uuid::Uuid), AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    Ok((
        user.user_id,
        backend::validate::uuid("session_id", session_id)?,
    ))
}

#[server(prefix = "/rpc", endpoint = "sharing/view")]
pub async fn get_sharing(session_id: String) -> Result<SharingView, AppError> {
    use crate::backend;
    let (owner, session_id) = owner_and_session(&session_id).await?;
    backend::sharing::view(&backend::app_state().db, owner, session_id).await
}

#[server(prefix = "/rpc", endpoint = "sharing/set")]
pub async fn set_sharing(session_id: String, enabled: bool) -> Result<SharingView, AppError> {
    use crate::backend;
    let (owner, session_id) = owner_and_session(&session_id).await?;
    backend::sharing::set_sharing(&backend::app_state(), owner, session_id, enabled).await
}

#[server(prefix = "/rpc", endpoint = "sharing/revoke")]
pub async fn revoke_share(session_id: String) -> Result<SharingView, AppError> {
    use crate::backend;
    let (owner, session_id) = owner_and_session(&session_id).await?;
    backend::sharing::revoke(&backend::app_state(), owner, session_id).await
}

#[server(prefix = "/rpc", endpoint = "sharing/remove_viewer")]
pub async fn remove_viewer(session_id: String, user_id: String) -> Result<(), AppError> {
    use crate::backend;
    let (owner, session_id) = owner_and_session(&session_id).await?;
    let viewer = backend::validate::uuid("user_id", &user_id)?;
    backend::sharing::remove_viewer(&backend::app_state(), owner, session_id, viewer).await
}

/// Hands control to a viewer; an empty `user_id` takes it back.
#[server(prefix = "/rpc", endpoint = "sharing/control")]
pub async fn set_control(session_id: String, user_id: String) -> Result<(), AppError> {
    use crate::backend;
    let (owner, session_id) = owner_and_session(&session_id).await?;
    let viewer = match user_id.trim() {
        "" => None,
        id => Some(backend::validate::uuid("user_id", id)?),
    };
    backend::sharing::set_control(&backend::app_state(), owner, session_id, viewer).await
}

#[server(prefix = "/rpc", endpoint = "sharing/join")]
pub async fn join_share(share_id: String) -> Result<JoinedSession, AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    backend::sharing::join(&backend::app_state(), user.user_id, share_id.trim()).await
}
