//! Registered images, as the admin manages them: the form's text validated here, the rows in
//! `store::images`. Only registered images ever run.
use super::{run_config, validate};
use crate::model::ImageRow;
use crate::AppError;
use sqlx::PgPool;
use store::images::{Deletion, ImageFields};
use store::StoreError;
use uuid::Uuid;

/// What the admin fills in for an image (form text, validated here).
#[derive(Debug, Clone, Default)]
pub struct ImageInput {
    pub friendly_name: String,
    pub name: String,
    pub description: String,
    pub image_src: String,
    pub categories: String,
    pub cores: String,
    pub memory: String,
    pub network_mode: String,
    pub enabled: bool,
    pub run_config: String,
}

struct Valid {
    friendly_name: String,
    name: String,
    description: String,
    image_src: String,
    categories: Vec<String>,
    cores: f64,
    memory: i64,
    network_mode: String,
    run_config: serde_json::Value,
    enabled: bool,
}

impl Valid {
    fn as_stored(&self) -> ImageFields<'_> {
        ImageFields {
            friendly_name: &self.friendly_name,
            name: &self.name,
            description: &self.description,
            image_src: &self.image_src,
            categories: &self.categories,
            cores: self.cores,
            memory: self.memory,
            network_mode: &self.network_mode,
            enabled: self.enabled,
            run_config: &self.run_config,
        }
    }
}

/// The largest memory size accepted anywhere (1 PiB), far below i64's limit.
const MAX_MEMORY: i64 = 1 << 50;

/// "2g", "512m", "1.5GiB" or plain bytes.
pub fn parse_memory(text: &str) -> Result<i64, AppError> {
    let invalid = || {
        AppError::invalid(
            "memory",
            format!("'{text}' is not a memory size; give bytes or e.g. 512m, 2g."),
        )
    };
    let lower = text.trim().to_lowercase().replace(' ', "");
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let factor = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(invalid()),
    };
    let bytes = (number * factor).round();
    if bytes.is_nan() || bytes <= 0.0 {
        return Err(AppError::invalid("memory", "Memory must be more than 0."));
    }
    if bytes > MAX_MEMORY as f64 {
        return Err(AppError::invalid("memory", "Memory must be at most 1 PiB."));
    }
    if bytes < (64 << 20) as f64 {
        return Err(AppError::invalid(
            "memory",
            "Memory must be at least 64 MiB.",
        ));
    }
    Ok(bytes as i64)
}

/// An image's cores: more than 0, at most 64.
pub fn parse_cores(text: &str) -> Result<f64, AppError> {
    parse_cores_up_to(text, 64.0)
}

/// A number of cores in (0, `max`], e.g. "0.5" or "2".
pub fn parse_cores_up_to(text: &str, max: f64) -> Result<f64, AppError> {
    let cores: f64 = text
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("cores", format!("'{text}' is not a number of cores.")))?;
    if !cores.is_finite() || cores <= 0.0 || cores > max {
        return Err(AppError::invalid(
            "cores",
            format!("Cores must be more than 0 and at most {max}."),
        ));
    }
    Ok(cores)
}

/// A thumbnail address: empty, an http(s) URL, or a path on this site.
fn image_src(text: &str) -> Result<String, AppError> {
    let value = validate::text("image_src", text, 500)?;
    let lower = value.to_ascii_lowercase();
    let ok = value.is_empty()
        || ((lower.starts_with("https://") || lower.starts_with("http://"))
            && !value.contains(char::is_whitespace))
        || (value.starts_with('/') && !value.starts_with("//"));
    if !ok {
        return Err(AppError::invalid(
            "image_src",
            "Give the thumbnail as an http(s) URL or a path such as /img/desktop.svg.",
        ));
    }
    Ok(value)
}

/// "Office, Dev tools" → ["Office", "Dev tools"].
fn categories(text: &str) -> Result<Vec<String>, AppError> {
    let mut list: Vec<String> = Vec::new();
    for category in text.split(',') {
        let category = validate::text("categories", category, 50)?;
        if !category.is_empty() && !list.contains(&category) {
            list.push(category);
        }
    }
    if list.len() > 20 {
        return Err(AppError::invalid("categories", "At most 20 categories."));
    }
    Ok(list)
}

fn validate_input(input: &ImageInput) -> Result<Valid, AppError> {
    let friendly_name = validate::text("friendly_name", &input.friendly_name, 100)?;
    if friendly_name.is_empty() {
        return Err(AppError::invalid(
            "friendly_name",
            "Give the workspace a name.",
        ));
    }
    let name = input.name.trim().to_owned();
    let reference_ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
    if !reference_ok {
        return Err(AppError::invalid(
            "name",
            "Give a container image reference, e.g. berth/desktop:latest.",
        ));
    }
    let network_mode = match input.network_mode.trim() {
        "" | "bridge" => "bridge",
        "none" => "none",
        other => {
            return Err(AppError::invalid(
                "network_mode",
                format!("Network '{other}' is not allowed (bridge or none)."),
            ))
        }
    };
    Ok(Valid {
        friendly_name,
        name,
        description: validate::text("description", &input.description, 500)?,
        image_src: image_src(&input.image_src)?,
        categories: categories(&input.categories)?,
        cores: parse_cores(&input.cores)?,
        memory: parse_memory(&input.memory)?,
        network_mode: network_mode.to_owned(),
        run_config: run_config::parse(&input.run_config)?,
        enabled: input.enabled,
    })
}

pub async fn list(db: &PgPool) -> Result<Vec<ImageRow>, AppError> {
    let rows = store::images::list(db).await?;
    Ok(rows
        .into_iter()
        .map(|row| ImageRow {
            image_id: row.image_id,
            friendly_name: row.friendly_name,
            name: row.name,
            description: row.description,
            image_src: row.image_src,
            categories: row.categories,
            cores: row.cores,
            memory: row.memory,
            network_mode: row.network_mode,
            enabled: row.enabled,
            run_config: row.run_config.to_string(),
            live_sessions: row.live_sessions,
        })
        .collect())
}

pub async fn create(db: &PgPool, input: &ImageInput) -> Result<Uuid, AppError> {
    let valid = validate_input(input)?;
    Ok(store::images::create(db, valid.as_stored()).await?)
}

pub async fn update(db: &PgPool, image_id: Uuid, input: &ImageInput) -> Result<(), AppError> {
    let valid = validate_input(input)?;
    store::images::update(db, image_id, valid.as_stored())
        .await
        .map_err(no_such_image)
}

pub async fn set_enabled(db: &PgPool, image_id: Uuid, enabled: bool) -> Result<(), AppError> {
    store::images::set_enabled(db, image_id, enabled)
        .await
        .map_err(no_such_image)
}

/// Deletes an image no live session uses (ended sessions' records go with it).
pub async fn delete(db: &PgPool, image_id: Uuid) -> Result<(), AppError> {
    match store::images::delete(db, image_id)
        .await
        .map_err(no_such_image)?
    {
        Deletion::Deleted => Ok(()),
        Deletion::InUse { live_sessions } => Err(AppError::Conflict {
            field: None,
            message: format!(
                "{live_sessions} session(s) still use this image; delete them first or disable the image."
            ),
        }),
    }
}

/// The store's "not found" in the words Admin → Images has always shown.
fn no_such_image(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound(_) => AppError::NotFound("No such image.".into()),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_are_read_in_binary_units() {
        assert_eq!(parse_memory("2g").unwrap(), 2 << 30);
        assert_eq!(parse_memory("512m").unwrap(), 512 << 20);
        assert_eq!(parse_memory("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_memory("1073741824").unwrap(), 1 << 30);
        for bad in ["", "-1g", "0", "lots", "2x", "1k", "99999999999t"] {
            assert_eq!(
                parse_memory(bad).unwrap_err().field(),
                Some("memory"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cores_must_be_positive_and_bounded() {
        assert_eq!(parse_cores("1.5").unwrap(), 1.5);
        assert_eq!(parse_cores_up_to("128", 4096.0).unwrap(), 128.0);
        for bad in ["0", "-1", "65", "x", "NaN", "inf"] {
            assert_eq!(
                parse_cores(bad).unwrap_err().field(),
                Some("cores"),
                "{bad}"
            );
        }
    }

    #[test]
    fn thumbnails_are_urls_or_site_paths() {
        assert_eq!(image_src("").unwrap(), "");
        assert!(image_src("https://example.com/a.png").is_ok());
        assert!(image_src("/img/desktop.svg").is_ok());
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x.png",
            "data:image/png,x",
            "a b",
        ] {
            assert_eq!(
                image_src(bad).unwrap_err().field(),
                Some("image_src"),
                "{bad}"
            );
        }
    }

    #[test]
    fn categories_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            categories(" Office, Dev ,,Office").unwrap(),
            ["Office", "Dev"]
        );
        assert!(categories("").unwrap().is_empty());
        assert!(categories(&"x".repeat(51)).is_err());
    }
}
