//! The workspace images a new deployment starts with, registered on its first start.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

pub struct DefaultImage {
    pub name: &'static str,
    pub friendly_name: &'static str,
    pub description: &'static str,
    pub categories: &'static [&'static str],
    pub cores: f64,
    pub memory: i64,
    pub image_src: &'static str,
}

/// Registers `images` (enabled) when the images table is empty, in one transaction. Returns
/// how many it registered.
pub async fn register_if_none(db: &PgPool, images: &[DefaultImage]) -> Result<usize, StoreError> {
    let mut tx = db.begin().await?;
    let any = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM images) AS "any!""#)
        .fetch_one(&mut *tx)
        .await?;
    if any {
        return Ok(0);
    }
    for image in images {
        let categories: Vec<String> = image.categories.iter().map(|c| c.to_string()).collect();
        sqlx::query!(
            r#"INSERT INTO images (image_id, name, friendly_name, description, image_src, categories, cores, memory, enabled)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true)"#,
            Uuid::new_v4(),
            image.name,
            image.friendly_name,
            image.description,
            image.image_src,
            &categories,
            image.cores,
            image.memory,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(images.len())
}
