//! Registered images (only these ever run), the workspaces users launch from them, and the
//! catalogue as the Developer API lists it.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// An image as the admin's list shows it, with how many live sessions use it.
#[derive(Debug, Clone)]
pub struct ImageRecord {
    pub image_id: Uuid,
    pub friendly_name: String,
    pub name: String,
    pub description: String,
    pub image_src: String,
    pub categories: Vec<String>,
    pub cores: f64,
    pub memory: i64,
    pub network_mode: String,
    pub enabled: bool,
    pub run_config: serde_json::Value,
    pub live_sessions: i64,
}

/// An image's fields as the admin sets them (already validated).
#[derive(Debug, Clone, Copy)]
pub struct ImageFields<'a> {
    pub friendly_name: &'a str,
    /// The container image reference.
    pub name: &'a str,
    pub description: &'a str,
    pub image_src: &'a str,
    pub categories: &'a [String],
    pub cores: f64,
    pub memory: i64,
    pub network_mode: &'a str,
    pub enabled: bool,
    pub run_config: &'a serde_json::Value,
}

/// An enabled image as users see it on their dashboard.
#[derive(Debug, Clone)]
pub struct WorkspaceRecord {
    pub image_id: Uuid,
    pub friendly_name: String,
    pub description: String,
    pub image_src: String,
    pub categories: Vec<String>,
}

/// How a deletion ended when the image was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// Refused: this many sessions that are not deleted still use the image.
    InUse {
        live_sessions: i64,
    },
}

/// Every image, by friendly name.
pub async fn list(db: &PgPool) -> Result<Vec<ImageRecord>, StoreError> {
    Ok(sqlx::query_as!(
        ImageRecord,
        r#"SELECT i.image_id, i.friendly_name, i.name, i.description, i.image_src, i.categories, i.cores, i.memory,
                  i.network_mode, i.enabled, i.run_config,
                  (SELECT count(*) FROM sessions k WHERE k.image_id = i.image_id AND k.operational_status <> 'deleted') AS "live_sessions!"
           FROM images i ORDER BY lower(i.friendly_name)"#
    )
    .fetch_all(db)
    .await?)
}

/// The enabled images the user may launch (see `group_access::may_use_image`), by friendly
/// name.
pub async fn list_enabled_for(
    db: &PgPool,
    user_id: Uuid,
) -> Result<Vec<WorkspaceRecord>, StoreError> {
    Ok(sqlx::query_as!(
        WorkspaceRecord,
        r#"SELECT i.image_id, i.friendly_name, i.description, i.image_src, i.categories
           FROM images i
           WHERE i.enabled AND (
               EXISTS (SELECT 1 FROM group_images gi WHERE gi.image_id = i.image_id
                       AND (gi.group_id = $2 OR gi.group_id IN (SELECT group_id FROM user_groups WHERE user_id = $1)))
               OR (NOT EXISTS (SELECT 1 FROM group_images gi WHERE gi.image_id = i.image_id)
                   AND EXISTS (SELECT 1 FROM users WHERE user_id = $1 AND role = 'admin')))
           ORDER BY lower(i.friendly_name)"#,
        user_id,
        crate::groups::ALL_USERS
    )
    .fetch_all(db)
    .await?)
}

/// Registers an image; a friendly name taken (in any case) is a conflict on `friendly_name`.
pub async fn create(db: &PgPool, image: ImageFields<'_>) -> Result<Uuid, StoreError> {
    let image_id = Uuid::new_v4();
    sqlx::query!(
        r#"INSERT INTO images (image_id, friendly_name, name, description, image_src, categories, cores, memory,
                               network_mode, enabled, run_config)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        image_id,
        image.friendly_name,
        image.name,
        image.description,
        image.image_src,
        image.categories,
        image.cores,
        image.memory,
        image.network_mode,
        image.enabled,
        image.run_config,
    )
    .execute(db)
    .await?;
    Ok(image_id)
}

pub async fn update(db: &PgPool, image_id: Uuid, image: ImageFields<'_>) -> Result<(), StoreError> {
    let done = sqlx::query!(
        r#"UPDATE images SET friendly_name = $2, name = $3, description = $4, image_src = $5, categories = $6,
                  cores = $7, memory = $8, network_mode = $9, enabled = $10, run_config = $11, updated = now()
           WHERE image_id = $1"#,
        image_id,
        image.friendly_name,
        image.name,
        image.description,
        image.image_src,
        image.categories,
        image.cores,
        image.memory,
        image.network_mode,
        image.enabled,
        image.run_config,
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

pub async fn set_enabled(db: &PgPool, image_id: Uuid, enabled: bool) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE images SET enabled = $2, updated = now() WHERE image_id = $1",
        image_id,
        enabled
    )
    .execute(db)
    .await?;
    found(done.rows_affected())
}

/// Deletes an image no live session uses, with the records of its ended sessions, in one
/// transaction (so no launch can start using it in between).
pub async fn delete(db: &PgPool, image_id: Uuid) -> Result<Deletion, StoreError> {
    let mut tx = db.begin().await?;
    let live_sessions = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM sessions WHERE image_id = $1 AND operational_status <> 'deleted'"#,
        image_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if live_sessions > 0 {
        return Ok(Deletion::InUse { live_sessions });
    }
    sqlx::query!(
        "DELETE FROM sessions WHERE image_id = $1 AND operational_status = 'deleted'",
        image_id
    )
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query!("DELETE FROM images WHERE image_id = $1", image_id)
        .execute(&mut *tx)
        .await?;
    found(done.rows_affected())?;
    tx.commit().await?;
    Ok(Deletion::Deleted)
}

fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound("image"))
    } else {
        Ok(())
    }
}

/// An image as the Developer API's get_images lists it, with whether every online agent has it.
pub struct ListedImage {
    pub image_id: Uuid,
    pub name: String,
    pub friendly_name: String,
    pub description: String,
    pub image_src: String,
    pub enabled: bool,
    pub cores: f64,
    pub memory: i64,
    pub categories: Vec<String>,
    pub restrict_to_server: bool,
    pub server_id: Option<Uuid>,
    pub run_config: serde_json::Value,
    pub exec_config: serde_json::Value,
    pub volume_mappings: serde_json::Value,
    /// Where the image's persistent profiles live (a template; empty: none).
    pub persistent_profile_path: String,
    /// True when at least one agent is online and every online agent has the image.
    pub available: bool,
}

/// Every image, by friendly name.
pub async fn listed(db: &PgPool) -> Result<Vec<ListedImage>, StoreError> {
    Ok(sqlx::query_as!(
        ListedImage,
        r#"SELECT i.image_id, i.name, i.friendly_name, i.description, i.image_src, i.enabled, i.cores, i.memory,
                  i.categories, i.restrict_to_server, i.server_id, i.run_config, i.exec_config, i.volume_mappings,
                  i.persistent_profile_path,
                  NOT EXISTS (SELECT 1 FROM servers s WHERE s.status = 'online' AND NOT (i.name = ANY(s.images_present)))
                    AND EXISTS (SELECT 1 FROM servers s WHERE s.status = 'online') AS "available!"
           FROM images i ORDER BY i.friendly_name"#
    )
    .fetch_all(db)
    .await?)
}
