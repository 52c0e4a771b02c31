//! The default workspace images, registered on the first start.
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

const GIB: i64 = 1 << 30;

pub const DEFAULT_IMAGES: &[DefaultImage] = &[
    DefaultImage {
        name: "berth/desktop:latest",
        friendly_name: "Desktop",
        description:
            "A light Debian desktop: window manager, panel, terminal, file manager and text editor.",
        categories: &["Desktop"],
        cores: 1.0,
        memory: 2 * GIB,
        image_src: "/img/desktop.svg",
    },
    DefaultImage {
        name: "berth/desktop-deluxe:latest",
        friendly_name: "Desktop Deluxe",
        description: "The Debian desktop with a web browser, an office suite and an image editor.",
        categories: &["Desktop", "Productivity"],
        cores: 2.0,
        memory: 4 * GIB,
        image_src: "/img/desktop-deluxe.svg",
    },
    DefaultImage {
        name: "berth/firefox:latest",
        friendly_name: "Firefox",
        description: "Firefox on its own, full screen.",
        categories: &["Browser"],
        cores: 1.0,
        memory: 2 * GIB,
        image_src: "/img/firefox.svg",
    },
];

/// Registers the default images (enabled) when the images table is empty. Returns how many.
pub async fn register_defaults(db: &PgPool) -> Result<usize, sqlx::Error> {
    let mut tx = db.begin().await?;
    let any = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM images) AS "any!""#)
        .fetch_one(&mut *tx)
        .await?;
    if any {
        return Ok(0);
    }
    for image in DEFAULT_IMAGES {
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
    Ok(DEFAULT_IMAGES.len())
}
