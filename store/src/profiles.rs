//! Persistent profiles as Berth records them: an image's profile location and volume
//! mappings, which profile folders exist on which agent host and whose they are, which session
//! mounts which profile (claimed under the placement lock, so two sessions never hold the same
//! one), and the folders each agent allows volume mappings under.
use crate::sessions::placement::Placement;
use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// An image's storage settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageStorage {
    /// The profile location template (empty: none).
    pub persistent_profile_path: String,
    /// Kasm's volume mapping object.
    pub volume_mappings: serde_json::Value,
}

pub async fn image_storage(db: &PgPool, image_id: Uuid) -> Result<ImageStorage, StoreError> {
    sqlx::query_as!(
        ImageStorage,
        "SELECT persistent_profile_path, volume_mappings FROM images WHERE image_id = $1",
        image_id
    )
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound("image"))
}

/// Sets an image's storage settings (already checked).
pub async fn set_image_storage(
    db: &PgPool,
    image_id: Uuid,
    storage: &ImageStorage,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE images SET persistent_profile_path = $2, volume_mappings = $3, updated = now() WHERE image_id = $1",
        image_id,
        storage.persistent_profile_path,
        storage.volume_mappings
    )
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("image"));
    }
    Ok(())
}

/// A session's claim of a profile folder on the agent it was placed on.
#[derive(Debug, Clone)]
pub struct ProfileClaim<'a> {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub server_id: Uuid,
    pub profile_path: &'a str,
}

/// Why a profile could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefused {
    /// A session that is not deleted already mounts it.
    InUse { session_id: Uuid, image: String },
    /// The folder on that host is another user's.
    OtherOwner,
}

impl Placement {
    /// The servers holding the user's profile folder at `profile_path`.
    pub async fn profile_hosts(
        &mut self,
        profile_path: &str,
        user_id: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT server_id FROM profiles WHERE profile_path = $1 AND user_id = $2",
            profile_path,
            user_id
        )
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Claims the profile for the session being placed, under the placement lock: refused
    /// while a session that is not deleted holds it, or when the folder is another user's.
    pub async fn claim_profile(
        &mut self,
        claim: &ProfileClaim<'_>,
    ) -> Result<Result<(), ClaimRefused>, StoreError> {
        let holder = sqlx::query!(
            r#"SELECT c.session_id, i.friendly_name
               FROM session_profiles c JOIN sessions s ON s.session_id = c.session_id
               JOIN images i ON i.image_id = s.image_id
               WHERE c.profile_path = $1 AND s.operational_status <> 'deleted' LIMIT 1"#,
            claim.profile_path
        )
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some(holder) = holder {
            return Ok(Err(ClaimRefused::InUse {
                session_id: holder.session_id,
                image: holder.friendly_name,
            }));
        }
        let owner = sqlx::query_scalar!(
            r#"INSERT INTO profiles (server_id, profile_path, user_id, image_id) VALUES ($1, $2, $3, $4)
               ON CONFLICT (server_id, profile_path) DO UPDATE SET last_used = now()
               WHERE profiles.user_id = EXCLUDED.user_id
               RETURNING user_id"#,
            claim.server_id,
            claim.profile_path,
            claim.user_id,
            claim.image_id
        )
        .fetch_optional(&mut *self.tx)
        .await?;
        if owner.is_none() {
            return Ok(Err(ClaimRefused::OtherOwner));
        }
        sqlx::query!(
            "DELETE FROM session_profiles WHERE profile_path = $1",
            claim.profile_path
        )
        .execute(&mut *self.tx)
        .await?;
        sqlx::query!(
            "INSERT INTO session_profiles (session_id, profile_path, server_id) VALUES ($1, $2, $3)",
            claim.session_id,
            claim.profile_path,
            claim.server_id
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(Ok(()))
    }
}

/// One of a user's profile folders on one agent host.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    pub server_id: Uuid,
    pub hostname: String,
    pub profile_path: String,
    /// The workspace it was made for, while that image exists.
    pub image: Option<String>,
    pub last_used: DateTime<Utc>,
    /// The session (not deleted) that mounts it now.
    pub in_use_by: Option<Uuid>,
}

/// A user's profiles, by host and path.
pub async fn of_user(db: &PgPool, user_id: Uuid) -> Result<Vec<UserProfile>, StoreError> {
    Ok(sqlx::query_as!(
        UserProfile,
        r#"SELECT p.server_id, s.hostname, p.profile_path, i.friendly_name AS "image?", p.last_used,
                  (SELECT c.session_id FROM session_profiles c JOIN sessions k ON k.session_id = c.session_id
                   WHERE c.profile_path = p.profile_path AND k.operational_status <> 'deleted' LIMIT 1) AS in_use_by
           FROM profiles p JOIN servers s ON s.server_id = p.server_id
           LEFT JOIN images i ON i.image_id = p.image_id
           WHERE p.user_id = $1 ORDER BY s.hostname, p.profile_path"#,
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// A profile folder on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileAt {
    pub server_id: Uuid,
    pub profile_path: String,
}

/// Profile folders of users who no longer exist, that no live session mounts (at most 500).
pub async fn orphaned(db: &PgPool) -> Result<Vec<ProfileAt>, StoreError> {
    Ok(sqlx::query_as!(
        ProfileAt,
        r#"SELECT p.server_id, p.profile_path FROM profiles p
           WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = p.user_id)
             AND NOT EXISTS (SELECT 1 FROM session_profiles c JOIN sessions k ON k.session_id = c.session_id
                             WHERE c.profile_path = p.profile_path AND k.operational_status <> 'deleted')
           ORDER BY p.server_id, p.profile_path LIMIT 500"#
    )
    .fetch_all(db)
    .await?)
}

/// Forgets profile folders the agent deleted.
pub async fn forget(db: &PgPool, server_id: Uuid, paths: &[String]) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM profiles WHERE server_id = $1 AND profile_path = ANY($2)",
        server_id,
        paths
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records the folders an agent allows volume mappings under (from its check-in).
pub async fn record_volume_roots(
    db: &PgPool,
    server_id: Uuid,
    roots: &[String],
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO agent_volume_roots (server_id, roots) VALUES ($1, $2)
           ON CONFLICT (server_id) DO UPDATE SET roots = EXCLUDED.roots, updated = now()
           WHERE agent_volume_roots.roots <> EXCLUDED.roots"#,
        server_id,
        roots
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Every folder some agent allows volume mappings under.
pub async fn volume_roots(db: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT DISTINCT unnest(roots) AS "root!" FROM agent_volume_roots ORDER BY 1"#
    )
    .fetch_all(db)
    .await?)
}

/// The images that have a profile location.
pub async fn images_with_profile(db: &PgPool) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT image_id FROM images WHERE persistent_profile_path <> '' AND enabled"
    )
    .fetch_all(db)
    .await?)
}
