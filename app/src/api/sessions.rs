//! The signed-in user's sessions: launch, watch, keep alive, pause, resume, delete.
use crate::model::{SessionChange, SessionView};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod owned {
    use crate::backend::{self, my_sessions};
    use crate::model::{CurrentUser, SessionView};
    use crate::AppError;

    /// The signed-in user and their session `session_id` (or the error to answer).
    pub async fn session(session_id: &str) -> Result<(CurrentUser, SessionView), AppError> {
        let user = backend::auth::require_user().await?;
        let session_id = backend::validate::uuid("session_id", session_id)?;
        let session = my_sessions::get(&backend::app_state().db, user.user_id, session_id).await?;
        Ok((user, session))
    }

    /// The owner's idleness on the session (None when it is off, unknown, or Redis does not
    /// answer: the page then shows no idle warning).
    pub async fn idleness(
        user: &CurrentUser,
        session: &SessionView,
    ) -> Option<backend::idle::Idleness> {
        let state = backend::app_state();
        let prefix = &state.web.redis_prefix;
        backend::idle::of(
            &state.db,
            &state.redis,
            prefix,
            user.user_id,
            session.session_id,
        )
        .await
        .ok()
        .flatten()
    }
}

/// Starts a session of a workspace; answers its session_id at once. `profile_mode`: what to
/// do with the user's persistent profile (enabled, disabled, reset; default enabled).
#[server(prefix = "/rpc", endpoint = "sessions/launch")]
pub async fn launch_workspace(
    image_id: String,
    #[server(default)] profile_mode: Option<String>,
) -> Result<String, AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    let image_id = backend::validate::uuid("image_id", &image_id)?;
    let mode = backend::storage::profile_mode(profile_mode.as_deref())?;
    let state = backend::app_state();
    let session_id = state
        .sessions
        .request_with_profile(user.user_id, image_id, mode)
        .await?;
    backend::audit::ok(
        &state.db,
        user.user_id,
        "launch_session",
        session_id.to_string(),
    )
    .await;
    Ok(session_id.to_string())
}

/// Right after sign-in: the session of the user's `default_image`, started if they have none
/// of it running; None when their groups set no default workspace.
#[server(prefix = "/rpc", endpoint = "sessions/default")]
pub async fn default_session() -> Result<Option<String>, AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    let state = backend::app_state();
    let session_id =
        backend::my_sessions::default_session(&state.db, state.sessions.as_ref(), user.user_id)
            .await?;
    Ok(session_id.map(|id| id.to_string()))
}

#[server(prefix = "/rpc", endpoint = "sessions/status")]
pub async fn session_status(session_id: String) -> Result<SessionView, AppError> {
    let (user, mut session) = owned::session(&session_id).await?;
    if let Some(idle) = owned::idleness(&user, &session).await {
        session.idle_in_secs = Some(idle.disconnect_in_secs());
        session.idle_warn_secs = idle.warn_secs();
    }
    Ok(session)
}

#[server(prefix = "/rpc", endpoint = "sessions/mine")]
pub async fn my_sessions() -> Result<Vec<SessionView>, AppError> {
    use crate::backend;
    let user = backend::auth::require_user().await?;
    backend::my_sessions::list(&backend::app_state().db, user.user_id).await
}

#[server(prefix = "/rpc", endpoint = "sessions/delete")]
pub async fn delete_session(session_id: String) -> Result<(), AppError> {
    use crate::backend;
    let (user, session) = owned::session(&session_id).await?;
    let state = backend::app_state();
    backend::policy::require_delete(&state.db, user.user_id).await?;
    state.sessions.destroy(session.session_id).await?;
    backend::audit::ok(
        &state.db,
        user.user_id,
        "delete_session",
        session.session_id.to_string(),
    )
    .await;
    Ok(())
}

/// Pauses, stops or resumes one of the caller's sessions.
#[server(prefix = "/rpc", endpoint = "sessions/change")]
pub async fn change_session(session_id: String, change: SessionChange) -> Result<(), AppError> {
    use crate::backend;
    let (user, session) = owned::session(&session_id).await?;
    let state = backend::app_state();
    backend::policy::require_change(&state.db, user.user_id, change).await?;
    state
        .sessions
        .change(session.session_id, change)
        .await
        .map_err(AppError::from)
}

#[server(prefix = "/rpc", endpoint = "sessions/keepalive")]
pub async fn keepalive(session_id: String) -> Result<(), AppError> {
    use crate::backend;
    let (user, session) = owned::session(&session_id).await?;
    backend::idle::require_active(owned::idleness(&user, &session).await)?;
    backend::app_state()
        .sessions
        .keepalive(session.session_id)
        .await
        .map_err(AppError::from)
}
