//! The workspaces (registered, enabled images) a user may launch: those of their groups.
use crate::model::Workspace;
use crate::AppError;
use sqlx::PgPool;

pub async fn list_enabled(db: &PgPool, user_id: uuid::Uuid) -> Result<Vec<Workspace>, AppError> {
    let rows = store::images::list_enabled_for(db, user_id).await?;
    Ok(rows
        .into_iter()
        .map(|row| Workspace {
            image_id: row.image_id,
            friendly_name: row.friendly_name,
            description: row.description,
            image_src: row.image_src,
            categories: row.categories,
        })
        .collect())
}
