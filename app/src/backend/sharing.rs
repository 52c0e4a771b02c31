//! Sharing a live session: the share link, who may watch, who may control, and the events
//! that tell every server process (through Redis) to re-check open connections.
use super::{audit, state::AppState};
use crate::model::{JoinedSession, SharingView, ViewerRow};
use crate::AppError;
use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

/// How a user may reach a session, and who may (the owner; a viewer who joined through the
/// current share link and was not removed).
pub use store::sharing::{access, Access};

/// The channel on which sharing changes are announced to every server process.
pub fn events_channel(prefix: &str) -> String {
    format!("{prefix}share-events")
}

/// Tells every process to re-check the connections to this session.
pub async fn announce(state: &AppState, session_id: Uuid) {
    let mut redis = state.redis.clone();
    let channel = events_channel(&state.web.redis_prefix);
    if let Err(error) = redis
        .publish::<_, _, ()>(channel, session_id.to_string())
        .await
    {
        tracing::warn!(%error, %session_id, "could not announce a sharing change");
    }
}

/// A new share link id: 12 URL-safe random characters.
fn new_share_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether the owner's groups let them share (allow_kasm_sharing).
async fn sharing_allowed(db: &PgPool, owner: Uuid) -> Result<bool, AppError> {
    Ok(super::policy::of(db, owner)
        .await?
        .allows(store::policy::ALLOW_KASM_SHARING))
}

/// Errs unless `user_id` owns the session.
async fn require_owner(db: &PgPool, user_id: Uuid, session_id: Uuid) -> Result<(), AppError> {
    let owner = store::sessions::owner_of(db, session_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such session.".into()))?;
    if owner == user_id {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub async fn view(db: &PgPool, owner: Uuid, session_id: Uuid) -> Result<SharingView, AppError> {
    require_owner(db, owner, session_id).await?;
    let share_id = store::sharing::share_id_of(db, session_id).await?;
    let viewers = store::sharing::viewers(db, session_id)
        .await?
        .into_iter()
        .map(|viewer| ViewerRow {
            user_id: viewer.user_id,
            username: viewer.username,
            has_control: viewer.has_control,
            joined: viewer.joined.format("%H:%M").to_string(),
        })
        .collect();
    Ok(SharingView {
        allowed: sharing_allowed(db, owner).await?,
        share_id,
        viewers,
    })
}

/// Turns sharing on (a fresh link) or off (no link; viewers are disconnected).
pub async fn set_sharing(
    state: &AppState,
    owner: Uuid,
    session_id: Uuid,
    on: bool,
) -> Result<SharingView, AppError> {
    require_owner(&state.db, owner, session_id).await?;
    if on {
        super::policy::require_sharing(&state.db, owner).await?;
    }
    let share_id = on.then(new_share_id);
    store::sharing::set_share_id(&state.db, session_id, share_id.as_deref()).await?;
    audit::ok(
        &state.db,
        owner,
        if on { "share_on" } else { "share_off" },
        session_id.to_string(),
    )
    .await;
    announce(state, session_id).await;
    view(&state.db, owner, session_id).await
}

/// Replaces the link: the old one stops working and its viewers are disconnected.
pub async fn revoke(
    state: &AppState,
    owner: Uuid,
    session_id: Uuid,
) -> Result<SharingView, AppError> {
    let view = set_sharing(state, owner, session_id, true).await?;
    audit::ok(&state.db, owner, "share_revoke", session_id.to_string()).await;
    Ok(view)
}

pub async fn remove_viewer(
    state: &AppState,
    owner: Uuid,
    session_id: Uuid,
    viewer: Uuid,
) -> Result<(), AppError> {
    require_owner(&state.db, owner, session_id).await?;
    store::sharing::remove_viewer(&state.db, session_id, viewer).await?;
    audit::ok(
        &state.db,
        owner,
        "share_remove_viewer",
        format!("{session_id}/{viewer}"),
    )
    .await;
    announce(state, session_id).await;
    Ok(())
}

/// Hands control to a current viewer, or takes it back (`None`).
pub async fn set_control(
    state: &AppState,
    owner: Uuid,
    session_id: Uuid,
    viewer: Option<Uuid>,
) -> Result<(), AppError> {
    require_owner(&state.db, owner, session_id).await?;
    if let Some(viewer) = viewer {
        if access(&state.db, viewer, session_id).await?.is_none() {
            return Err(AppError::invalid(
                "user_id",
                "That person is not watching this session.",
            ));
        }
    }
    store::sharing::set_control(&state.db, session_id, viewer).await?;
    let target = format!(
        "{session_id}/{}",
        viewer
            .map(|v| v.to_string())
            .unwrap_or_else(|| "owner".into())
    );
    audit::ok(&state.db, owner, "share_control", target).await;
    announce(state, session_id).await;
    Ok(())
}

/// Joins through a share link: records the viewer (unless removed from this link).
pub async fn join(
    state: &AppState,
    user_id: Uuid,
    share_id: &str,
) -> Result<JoinedSession, AppError> {
    let shared = store::sharing::shared_by_link(&state.db, share_id)
        .await?
        .ok_or(AppError::Forbidden)?;
    if shared.owner_id != user_id {
        let removed =
            store::sharing::viewer_removed(&state.db, shared.session_id, user_id, share_id).await?;
        if removed == Some(true) {
            return Err(AppError::Forbidden);
        }
        store::sharing::add_viewer(&state.db, shared.session_id, user_id, share_id).await?;
        audit::ok(
            &state.db,
            user_id,
            "share_join",
            shared.session_id.to_string(),
        )
        .await;
    }
    Ok(JoinedSession {
        session_id: shared.session_id,
        owner: shared.owner,
        image_name: shared.image_name,
        status: shared.status,
        has_control: shared.control_user_id == Some(user_id),
    })
}
