//! The signed-in user's own sessions: what they see and may do to them.
use crate::model::SessionView;
use crate::AppError;
use sqlx::PgPool;
use store::sessions::views::OwnSession;
use uuid::Uuid;

/// The user's sessions that have not ended, newest first.
pub async fn list(db: &PgPool, user_id: Uuid) -> Result<Vec<SessionView>, AppError> {
    Ok(store::sessions::views::of_user(db, user_id)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

/// One session of the user's; 404 if it does not exist, 403 if it is someone else's.
pub async fn get(db: &PgPool, user_id: Uuid, session_id: Uuid) -> Result<SessionView, AppError> {
    let session = store::sessions::views::one(db, session_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such session.".into()))?;
    if session.user_id != user_id {
        return Err(AppError::Forbidden);
    }
    Ok(view(session))
}

fn view(session: OwnSession) -> SessionView {
    SessionView {
        session_id: session.session_id,
        image_name: session.image_name,
        status: session.status,
        message: session.message,
        progress: session.progress,
        created: session.created.format("%Y-%m-%d %H:%M").to_string(),
        expires_in_secs: session.expires_in_secs.max(0),
        idle_in_secs: None,
        idle_warn_secs: 0,
    }
}
