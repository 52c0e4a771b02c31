//! The workspaces (registered, enabled images) a user may launch.
use super::db_error;
use crate::model::Workspace;
use crate::AppError;
use sqlx::PgPool;

pub async fn list_enabled(db: &PgPool) -> Result<Vec<Workspace>, AppError> {
    let rows = sqlx::query!(
        r#"SELECT image_id, friendly_name, description, image_src, categories
           FROM images WHERE enabled ORDER BY lower(friendly_name)"#
    )
    .fetch_all(db)
    .await
    .map_err(db_error)?;
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
