//! The signed-in user's own sessions: what they see and may do to them.
use crate::model::{SessionAllowances, SessionView};
use crate::AppError;
use sqlx::PgPool;
use store::policy::{self, Policy};
use store::sessions::views::OwnSession;
use uuid::Uuid;

/// The user's sessions that have not ended, newest first.
pub async fn list(db: &PgPool, user_id: Uuid) -> Result<Vec<SessionView>, AppError> {
    let allowed = allowances(&crate::backend::policy::of(db, user_id).await?);
    Ok(store::sessions::views::of_user(db, user_id)
        .await?
        .into_iter()
        .map(|session| view(session, allowed))
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
    let allowed = allowances(&crate::backend::policy::of(db, user_id).await?);
    Ok(view(session, allowed))
}

/// The session actions `policy` allows.
pub fn allowances(policy: &Policy) -> SessionAllowances {
    SessionAllowances {
        delete: policy.allows(policy::ALLOW_KASM_DELETE),
        pause: policy.allows(policy::ALLOW_KASM_PAUSE),
        stop: policy.allows(policy::ALLOW_KASM_STOP),
        clipboard_up: policy.allows(policy::ALLOW_KASM_CLIPBOARD_UP),
        clipboard_down: policy.allows(policy::ALLOW_KASM_CLIPBOARD_DOWN),
    }
}

fn view(session: OwnSession, allowed: SessionAllowances) -> SessionView {
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
        allowed,
    }
}

/// The session the user's `default_image` (their groups' "workspace launched on sign-in")
/// opens: their live session of that workspace, else a new one; None when their groups set
/// none. A workspace they may not use is refused as any launch is.
pub async fn default_session(
    db: &PgPool,
    sessions: &dyn crate::backend::sessions::SessionControl,
    user_id: Uuid,
) -> Result<Option<Uuid>, AppError> {
    let policy = crate::backend::policy::of(db, user_id).await?;
    let Some(image_id) = default_image(&policy) else {
        return Ok(None);
    };
    let live = store::sessions::views::of_user(db, user_id)
        .await?
        .into_iter()
        .find(|session| session.image_id == image_id && !session.status.is_over());
    match live {
        Some(session) => Ok(Some(session.session_id)),
        None => Ok(Some(sessions.request(user_id, image_id).await?)),
    }
}

/// The resolved `default_image`, when it names an image.
fn default_image(policy: &Policy) -> Option<Uuid> {
    let value = &policy.get(policy::DEFAULT_IMAGE)?.value;
    value.as_str().and_then(|id| Uuid::parse_str(id).ok())
}
