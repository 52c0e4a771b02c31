//! Staging (warm pool): the configs (per image, optionally per agent: how many sessions to keep
//! ready and how long one may wait), their counts, and the staged sessions themselves. A staged
//! session is a session row with no owner (`user_id` NULL) naming its config; a launch takes one
//! over in [`crate::sessions::placement::Placement::claim_staged`].
use crate::StoreError;
use berth_model::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// What an administrator sets.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInput {
    pub image_id: Uuid,
    /// The one agent the sessions are staged on; None: wherever placement chooses.
    pub server_id: Option<Uuid>,
    pub desired: i32,
    pub expiry_secs: i32,
}

/// A config with what it has now: ready (running, nobody's), starting (requested, provisioning
/// or starting, nobody's) and used (handed over, not yet deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigView {
    pub staging_config_id: Uuid,
    pub image_id: Uuid,
    pub image_name: String,
    pub server_id: Option<Uuid>,
    pub server_name: Option<String>,
    pub desired: i32,
    pub expiry_secs: i32,
    pub ready: i64,
    pub starting: i64,
    pub used: i64,
}

/// Every config with its counts, by image name then agent.
pub async fn list(db: &PgPool) -> Result<Vec<ConfigView>, StoreError> {
    let mut connection = db.acquire().await?;
    list_on(&mut connection).await
}

async fn list_on(db: &mut sqlx::PgConnection) -> Result<Vec<ConfigView>, StoreError> {
    Ok(sqlx::query_as!(
        ConfigView,
        r#"SELECT c.staging_config_id, c.image_id, i.friendly_name AS image_name, c.server_id,
                  s.hostname AS "server_name?", c.desired, c.expiry_secs,
                  count(k.session_id) FILTER (WHERE k.user_id IS NULL
                      AND k.operational_status = 'running') AS "ready!",
                  count(k.session_id) FILTER (WHERE k.user_id IS NULL
                      AND k.operational_status IN ('requested', 'provisioning', 'starting')) AS "starting!",
                  count(k.session_id) FILTER (WHERE k.user_id IS NOT NULL
                      AND k.operational_status <> 'deleted') AS "used!"
           FROM staging_configs c
           JOIN images i ON i.image_id = c.image_id
           LEFT JOIN servers s ON s.server_id = c.server_id
           LEFT JOIN sessions k ON k.staging_config_id = c.staging_config_id
                AND k.operational_status <> 'deleted'
           GROUP BY c.staging_config_id, i.friendly_name, s.hostname
           ORDER BY lower(i.friendly_name), s.hostname NULLS FIRST"#
    )
    .fetch_all(db)
    .await?)
}

pub async fn create(db: &PgPool, input: &ConfigInput) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO staging_configs (staging_config_id, image_id, server_id, desired, expiry_secs)
         VALUES ($1, $2, $3, $4, $5)",
        id,
        input.image_id,
        input.server_id,
        input.desired,
        input.expiry_secs,
    )
    .execute(db)
    .await?;
    Ok(id)
}

pub async fn update(db: &PgPool, id: Uuid, input: &ConfigInput) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE staging_configs SET image_id = $2, server_id = $3, desired = $4, expiry_secs = $5,
                updated = now()
         WHERE staging_config_id = $1",
        id,
        input.image_id,
        input.server_id,
        input.desired,
        input.expiry_secs,
    )
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("staging config"));
    }
    Ok(())
}

/// Deletes the config; its staged sessions are left without one (the manager recycles them).
pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "DELETE FROM staging_configs WHERE staging_config_id = $1",
        id
    )
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("staging config"));
    }
    Ok(())
}

/// Whether the image and (when given) the agent are registered.
pub async fn targets_exist(
    db: &PgPool,
    image_id: Uuid,
    server_id: Option<Uuid>,
) -> Result<(bool, bool), StoreError> {
    let row = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM images WHERE image_id = $1) AS "image!",
                  ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM servers WHERE server_id = $2)) AS "server!""#,
        image_id,
        server_id
    )
    .fetch_one(db)
    .await?;
    Ok((row.image, row.server))
}

/// A live session that belongs to nobody yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    pub session_id: Uuid,
    /// None once its config was deleted.
    pub staging_config_id: Option<Uuid>,
    pub status: SessionStatus,
}

/// Every config and every staged session as of one moment, for the pool's plan: read apart,
/// a change between the two reads (a desired count raised while sessions were added, a
/// config's sessions read before the config) would look like a surplus and recycle sessions
/// the pool wants.
pub async fn pool_snapshot(db: &PgPool) -> Result<(Vec<ConfigView>, Vec<Staged>), StoreError> {
    let mut tx = db.begin().await?;
    // Before any read: both reads then see the snapshot taken at the first.
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let configs = list_on(&mut tx).await?;
    let staged = staged_on(&mut tx).await?;
    tx.commit().await?;
    Ok((configs, staged))
}

/// Every staged session that is not deleted, oldest first.
async fn staged_on(db: &mut sqlx::PgConnection) -> Result<Vec<Staged>, StoreError> {
    Ok(sqlx::query_as!(
        Staged,
        r#"SELECT session_id, staging_config_id, operational_status AS "status: SessionStatus"
           FROM sessions
           WHERE user_id IS NULL AND operational_status <> 'deleted'
           ORDER BY created_date, session_id"#
    )
    .fetch_all(db)
    .await?)
}

/// How many staged sessions of the image are ready to be handed over now.
pub async fn ready_of_image(db: &PgPool, image_id: Uuid) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM sessions
           WHERE user_id IS NULL AND image_id = $1 AND operational_status = 'running'
             AND staging_config_id IS NOT NULL"#,
        image_id
    )
    .fetch_one(db)
    .await?)
}
