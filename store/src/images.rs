//! Workspace images: the catalogue as the Developer API lists it.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// An image with whether every online agent has it.
#[derive(Debug, Clone)]
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
    /// True when at least one agent is online and every online agent has the image.
    pub available: bool,
}

/// Every image, by friendly name.
pub async fn listed(db: &PgPool) -> Result<Vec<ListedImage>, StoreError> {
    Ok(sqlx::query_as!(
        ListedImage,
        r#"SELECT i.image_id, i.name, i.friendly_name, i.description, i.image_src, i.enabled, i.cores, i.memory,
                  i.categories, i.restrict_to_server, i.server_id, i.run_config, i.exec_config, i.volume_mappings,
                  NOT EXISTS (SELECT 1 FROM servers s WHERE s.status = 'online' AND NOT (i.name = ANY(s.images_present)))
                    AND EXISTS (SELECT 1 FROM servers s WHERE s.status = 'online') AS "available!"
           FROM images i ORDER BY i.friendly_name"#
    )
    .fetch_all(db)
    .await?)
}
