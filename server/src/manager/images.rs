//! The default workspace images, registered on the first start.
use sqlx::PgPool;
use store::StoreError;

pub use store::default_images::DefaultImage;

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
pub async fn register_defaults(db: &PgPool) -> Result<usize, StoreError> {
    store::default_images::register_if_none(db, DEFAULT_IMAGES).await
}
