//! Sharing a live session: its share link, the viewers who joined through it, who has
//! control, and (submodules) the session's chat and the one-time sign-in links of the
//! Developer API.
pub mod chat;
pub mod connect_tokens;

use crate::StoreError;
use berth_model::SessionStatus;
use chrono::{DateTime, Utc};
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
    session_id: Uuid,
) -> Result<Option<Access>, StoreError> {
    let row = sqlx::query!(
        r#"SELECT k.user_id, k.share_id, k.control_user_id, v.share_id AS "viewer_share?", v.removed AS "removed?"
           FROM sessions k
           LEFT JOIN session_viewers v ON v.session_id = k.session_id AND v.user_id = $2
           WHERE k.session_id = $1"#,
        session_id,
        user_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|row| {
        if row.user_id == Some(user_id) {
            return Some(Access::Owner);
        }
        let current = row.share_id?;
        let joined_current = row.viewer_share.as_deref() == Some(current.as_str());
        (joined_current && row.removed == Some(false)).then_some(Access::Viewer {
            control: row.control_user_id == Some(user_id),
        })
    }))
}

/// The session's current share link id (None while sharing is off or there is no session).
pub async fn share_id_of(db: &PgPool, session_id: Uuid) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT share_id FROM sessions WHERE session_id = $1",
        session_id
    )
    .fetch_optional(db)
    .await?
    .flatten())
}

/// Someone watching through the current link.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: Uuid,
    pub username: String,
    pub has_control: bool,
    pub joined: DateTime<Utc>,
}

/// The session's current viewers (joined through the current link, not removed), in the
/// order they joined.
pub async fn viewers(db: &PgPool, session_id: Uuid) -> Result<Vec<Viewer>, StoreError> {
    Ok(sqlx::query_as!(
        Viewer,
        r#"SELECT v.user_id, u.username, v.joined, COALESCE(k.control_user_id = v.user_id, false) AS "has_control!"
           FROM session_viewers v JOIN users u ON u.user_id = v.user_id JOIN sessions k ON k.session_id = v.session_id
           WHERE v.session_id = $1 AND NOT v.removed AND v.share_id = k.share_id
           ORDER BY v.joined"#,
        session_id
    )
    .fetch_all(db)
    .await?)
}

/// A new share link (Some) or none (sharing off); control goes back to the owner either way.
pub async fn set_share_id(
    db: &PgPool,
    session_id: Uuid,
    share_id: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE sessions SET share_id = $2, control_user_id = NULL WHERE session_id = $1",
        session_id,
        share_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a viewer from the current link (they cannot join it again) and takes control
/// back from them if they had it.
pub async fn remove_viewer(db: &PgPool, session_id: Uuid, viewer: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE session_viewers SET removed = true WHERE session_id = $1 AND user_id = $2",
        session_id,
        viewer
    )
    .execute(db)
    .await?;
    sqlx::query!(
        "UPDATE sessions SET control_user_id = NULL WHERE session_id = $1 AND control_user_id = $2",
        session_id,
        viewer
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Gives control to `viewer`, or back to the owner (None).
pub async fn set_control(
    db: &PgPool,
    session_id: Uuid,
    viewer: Option<Uuid>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE sessions SET control_user_id = $2 WHERE session_id = $1",
        session_id,
        viewer
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A session that is shared, as someone joining through its link sees it.
#[derive(Debug, Clone)]
pub struct Shared {
    pub session_id: Uuid,
    pub owner_id: Uuid,
    pub owner: String,
    pub image_name: String,
    pub status: SessionStatus,
    pub control_user_id: Option<Uuid>,
}

/// The session a share link opens (None for an unknown or revoked link, or a deleted session).
pub async fn shared_by_link(db: &PgPool, share_id: &str) -> Result<Option<Shared>, StoreError> {
    Ok(sqlx::query_as!(
        Shared,
        r#"SELECT k.session_id, k.user_id AS "owner_id!", u.username AS owner, i.friendly_name AS image_name,
                  k.operational_status AS "status: SessionStatus", k.control_user_id
           FROM sessions k JOIN users u ON u.user_id = k.user_id JOIN images i ON i.image_id = k.image_id
           WHERE k.share_id = $1 AND k.operational_status <> 'deleted'"#,
        share_id
    )
    .fetch_optional(db)
    .await?)
}

/// Whether the user was removed from this link (None: never joined through it).
pub async fn viewer_removed(
    db: &PgPool,
    session_id: Uuid,
    user_id: Uuid,
    share_id: &str,
) -> Result<Option<bool>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT removed FROM session_viewers WHERE session_id = $1 AND user_id = $2 AND share_id = $3",
        session_id,
        user_id,
        share_id
    )
    .fetch_optional(db)
    .await?)
}

/// Records the user as a viewer who joined through `share_id` now.
pub async fn add_viewer(
    db: &PgPool,
    session_id: Uuid,
    user_id: Uuid,
    share_id: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO session_viewers (session_id, user_id, share_id) VALUES ($1, $2, $3)
           ON CONFLICT (session_id, user_id) DO UPDATE SET share_id = EXCLUDED.share_id, removed = false, joined = now()"#,
        session_id,
        user_id,
        share_id
    )
    .execute(db)
    .await?;
    Ok(())
}
