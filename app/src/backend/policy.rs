//! The user's group settings where the web app and the Developer API act for them: an action
//! their groups switch off is refused with a message naming the setting (403).
use crate::AppError;
use sqlx::PgPool;
use store::policy::{self, Policy};
use uuid::Uuid;

/// The user's effective settings.
pub async fn of(db: &PgPool, user_id: Uuid) -> Result<Policy, AppError> {
    Ok(store::group_access::policy_of(db, user_id).await?)
}

/// Errs unless the user's groups allow `setting` (a flag); `what` names the action.
pub async fn require(
    db: &PgPool,
    user_id: Uuid,
    setting: &str,
    what: &str,
) -> Result<(), AppError> {
    if of(db, user_id).await?.allows(setting) {
        Ok(())
    } else {
        Err(refusal(setting, what))
    }
}

/// The refusal of an action switched off by `setting`.
pub fn refusal(setting: &str, what: &str) -> AppError {
    AppError::NotAllowed(format!(
        "Your groups do not allow {what} ({setting} is off)."
    ))
}

/// Errs unless the user may make this change to their session (resuming is always allowed).
pub async fn require_change(
    db: &PgPool,
    user_id: Uuid,
    change: crate::model::SessionChange,
) -> Result<(), AppError> {
    use crate::model::SessionChange;
    match change {
        SessionChange::Pause => {
            require(db, user_id, policy::ALLOW_KASM_PAUSE, "pausing sessions").await
        }
        SessionChange::Stop => {
            require(db, user_id, policy::ALLOW_KASM_STOP, "stopping sessions").await
        }
        SessionChange::Resume => Ok(()),
    }
}

/// Errs unless the user may delete their sessions.
pub async fn require_delete(db: &PgPool, user_id: Uuid) -> Result<(), AppError> {
    require(db, user_id, policy::ALLOW_KASM_DELETE, "deleting sessions").await
}

/// Errs unless the user may share their sessions.
pub async fn require_sharing(db: &PgPool, user_id: Uuid) -> Result<(), AppError> {
    require(db, user_id, policy::ALLOW_KASM_SHARING, "sharing sessions").await
}
