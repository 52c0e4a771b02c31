//! Sharing a live session: the share link, who may watch, who may control, and the events
//! that tell every server process (through Redis) to re-check open connections.
use super::{audit, db_error, state::AppState};
use crate::model::{JoinedSession, SessionStatus, SharingView, ViewerRow};
use crate::AppError;
use redis::AsyncCommands;
use sqlx::PgPool;
use uuid::Uuid;

/// How a user may reach a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Owner,
    Viewer { control: bool },
}

/// The user's access to the session, if any: the owner; or a viewer who joined through the
/// current share link and was not removed.
pub async fn access(
    db: &PgPool,
    user_id: Uuid,
    kasm_id: Uuid,
) -> Result<Option<Access>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT k.user_id, k.share_id, k.control_user_id, v.share_id AS "viewer_share?", v.removed AS "removed?"
           FROM kasms k
           LEFT JOIN kasm_viewers v ON v.kasm_id = k.kasm_id AND v.user_id = $2
           WHERE k.kasm_id = $1"#,
        kasm_id,
        user_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|row| {
        if row.user_id == user_id {
            return Some(Access::Owner);
        }
        let current = row.share_id?;
        let joined_current = row.viewer_share.as_deref() == Some(current.as_str());
        (joined_current && row.removed == Some(false)).then_some(Access::Viewer {
            control: row.control_user_id == Some(user_id),
        })
    }))
}

/// The channel on which sharing changes are announced to every server process.
pub fn events_channel(prefix: &str) -> String {
    format!("{prefix}share-events")
}

/// Tells every process to re-check the connections to this session.
pub async fn announce(state: &AppState, kasm_id: Uuid) {
    let mut redis = state.redis.clone();
    let channel = events_channel(&state.web.redis_prefix);
    if let Err(error) = redis
        .publish::<_, _, ()>(channel, kasm_id.to_string())
        .await
    {
        tracing::warn!(%error, %kasm_id, "could not announce a sharing change");
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

async fn sharing_allowed(db: &PgPool) -> Result<bool, AppError> {
    Ok(store::settings::load(db).await?.allow_kasm_sharing)
}

/// Errs unless `user_id` owns the session.
async fn require_owner(db: &PgPool, user_id: Uuid, kasm_id: Uuid) -> Result<(), AppError> {
    let owner = store::sessions::owner_of(db, kasm_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such session.".into()))?;
    if owner == user_id {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub async fn view(db: &PgPool, owner: Uuid, kasm_id: Uuid) -> Result<SharingView, AppError> {
    require_owner(db, owner, kasm_id).await?;
    let share_id = sqlx::query_scalar!("SELECT share_id FROM kasms WHERE kasm_id = $1", kasm_id)
        .fetch_one(db)
        .await
        .map_err(db_error)?;
    let viewers = sqlx::query!(
        r#"SELECT v.user_id, u.username, v.joined, COALESCE(k.control_user_id = v.user_id, false) AS "control!"
           FROM kasm_viewers v JOIN users u ON u.user_id = v.user_id JOIN kasms k ON k.kasm_id = v.kasm_id
           WHERE v.kasm_id = $1 AND NOT v.removed AND v.share_id = k.share_id
           ORDER BY v.joined"#,
        kasm_id
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?
    .into_iter()
    .map(|row| ViewerRow {
        user_id: row.user_id,
        username: row.username,
        has_control: row.control,
        joined: row.joined.format("%H:%M").to_string(),
    })
    .collect();
    Ok(SharingView {
        allowed: sharing_allowed(db).await?,
        share_id,
        viewers,
    })
}

/// Turns sharing on (a fresh link) or off (no link; viewers are disconnected).
pub async fn set_sharing(
    state: &AppState,
    owner: Uuid,
    kasm_id: Uuid,
    on: bool,
) -> Result<SharingView, AppError> {
    require_owner(&state.db, owner, kasm_id).await?;
    if on && !sharing_allowed(&state.db).await? {
        return Err(AppError::invalid(
            "share",
            "Sharing sessions is turned off by the administrator.",
        ));
    }
    let share_id = on.then(new_share_id);
    sqlx::query!(
        "UPDATE kasms SET share_id = $2, control_user_id = NULL WHERE kasm_id = $1",
        kasm_id,
        share_id
    )
    .execute(&state.db)
    .await
    .map_err(db_error)?;
    audit::ok(
        &state.db,
        owner,
        if on { "share_on" } else { "share_off" },
        kasm_id.to_string(),
    )
    .await;
    announce(state, kasm_id).await;
    view(&state.db, owner, kasm_id).await
}

/// Replaces the link: the old one stops working and its viewers are disconnected.
pub async fn revoke(state: &AppState, owner: Uuid, kasm_id: Uuid) -> Result<SharingView, AppError> {
    let view = set_sharing(state, owner, kasm_id, true).await?;
    audit::ok(&state.db, owner, "share_revoke", kasm_id.to_string()).await;
    Ok(view)
}

pub async fn remove_viewer(
    state: &AppState,
    owner: Uuid,
    kasm_id: Uuid,
    viewer: Uuid,
) -> Result<(), AppError> {
    require_owner(&state.db, owner, kasm_id).await?;
    sqlx::query!(
        "UPDATE kasm_viewers SET removed = true WHERE kasm_id = $1 AND user_id = $2",
        kasm_id,
        viewer
    )
    .execute(&state.db)
    .await
    .map_err(db_error)?;
    sqlx::query!(
        "UPDATE kasms SET control_user_id = NULL WHERE kasm_id = $1 AND control_user_id = $2",
        kasm_id,
        viewer
    )
    .execute(&state.db)
    .await
    .map_err(db_error)?;
    audit::ok(
        &state.db,
        owner,
        "share_remove_viewer",
        format!("{kasm_id}/{viewer}"),
    )
    .await;
    announce(state, kasm_id).await;
    Ok(())
}

/// Hands control to a current viewer, or takes it back (`None`).
pub async fn set_control(
    state: &AppState,
    owner: Uuid,
    kasm_id: Uuid,
    viewer: Option<Uuid>,
) -> Result<(), AppError> {
    require_owner(&state.db, owner, kasm_id).await?;
    if let Some(viewer) = viewer {
        if access(&state.db, viewer, kasm_id)
            .await
            .map_err(db_error)?
            .is_none()
        {
            return Err(AppError::invalid(
                "user_id",
                "That person is not watching this session.",
            ));
        }
    }
    sqlx::query!(
        "UPDATE kasms SET control_user_id = $2 WHERE kasm_id = $1",
        kasm_id,
        viewer
    )
    .execute(&state.db)
    .await
    .map_err(db_error)?;
    let target = format!(
        "{kasm_id}/{}",
        viewer
            .map(|v| v.to_string())
            .unwrap_or_else(|| "owner".into())
    );
    audit::ok(&state.db, owner, "share_control", target).await;
    announce(state, kasm_id).await;
    Ok(())
}

/// Joins through a share link: records the viewer (unless removed from this link).
pub async fn join(
    state: &AppState,
    user_id: Uuid,
    share_id: &str,
) -> Result<JoinedSession, AppError> {
    let row = sqlx::query!(
        r#"SELECT k.kasm_id, k.user_id, u.username, i.friendly_name, k.operational_status AS "operational_status: SessionStatus", k.control_user_id
           FROM kasms k JOIN users u ON u.user_id = k.user_id JOIN images i ON i.image_id = k.image_id
           WHERE k.share_id = $1 AND k.operational_status <> 'deleted'"#,
        share_id
    )
    .fetch_optional(&state.db)
    .await
    .map_err(db_error)?
    .ok_or(AppError::Forbidden)?;
    if row.user_id != user_id {
        let removed = sqlx::query_scalar!(
            "SELECT removed FROM kasm_viewers WHERE kasm_id = $1 AND user_id = $2 AND share_id = $3",
            row.kasm_id,
            user_id,
            share_id
        )
        .fetch_optional(&state.db)
        .await
        .map_err(db_error)?;
        if removed == Some(true) {
            return Err(AppError::Forbidden);
        }
        sqlx::query!(
            r#"INSERT INTO kasm_viewers (kasm_id, user_id, share_id) VALUES ($1, $2, $3)
               ON CONFLICT (kasm_id, user_id) DO UPDATE SET share_id = EXCLUDED.share_id, removed = false, joined = now()"#,
            row.kasm_id,
            user_id,
            share_id
        )
        .execute(&state.db)
        .await
        .map_err(db_error)?;
        audit::ok(&state.db, user_id, "share_join", row.kasm_id.to_string()).await;
    }
    Ok(JoinedSession {
        kasm_id: row.kasm_id,
        owner: row.username,
        image_name: row.friendly_name,
        status: row.operational_status,
        has_control: row.control_user_id == Some(user_id),
    })
}
