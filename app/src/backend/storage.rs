//! Persistent profiles and volume mappings as administrators set them: an image's profile
//! location and volume mappings, a group's `volume_mapping`, checked when saved (the
//! template's syntax, each mapping's paths, and host paths under a folder some agent allows,
//! as agents report BERTH_VOLUME_ROOTS at check-in; the agent checks again at launch), and a
//! user's profiles as Admin → Users lists them.
use crate::model::ProfileRow;
use crate::AppError;
use sqlx::PgPool;
use store::mounts;
use store::profiles::ImageStorage;
use uuid::Uuid;

/// Checks volume mappings (JSON text or value) as saved; the error names the path at fault.
pub async fn check_mappings(
    db: &PgPool,
    field: &str,
    value: &serde_json::Value,
) -> Result<(), AppError> {
    let mappings =
        mounts::parse_mappings(value).map_err(|message| AppError::invalid(field, message))?;
    if mappings.is_empty() {
        return Ok(());
    }
    let roots = store::profiles::volume_roots(db).await?;
    mounts::check_under_roots(&mappings, &roots)
        .map_err(|message| AppError::invalid(field, message))
}

/// Saves an image's profile location and volume mappings, checked.
pub async fn save_image_storage(
    db: &PgPool,
    image_id: Uuid,
    persistent_profile_path: &str,
    volume_mappings: &str,
) -> Result<(), AppError> {
    let template = persistent_profile_path.trim();
    mounts::check_profile_template(template)
        .map_err(|message| AppError::invalid("persistent_profile_path", message))?;
    let text = volume_mappings.trim();
    let mappings: serde_json::Value = if text.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(text).map_err(|error| {
            AppError::invalid(
                "volume_mappings",
                format!("Volume mappings are not JSON: {error}."),
            )
        })?
    };
    check_mappings(db, "volume_mappings", &mappings).await?;
    let storage = ImageStorage {
        persistent_profile_path: template.to_owned(),
        volume_mappings: mappings,
    };
    Ok(store::profiles::set_image_storage(db, image_id, &storage).await?)
}

/// The launch dialog's profile mode (empty: enabled).
pub fn profile_mode(text: Option<&str>) -> Result<berth_model::ProfileMode, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(berth_model::ProfileMode::default()),
        Some(text) => berth_model::ProfileMode::parse(text).ok_or_else(|| {
            AppError::invalid(
                "profile_mode",
                format!("The profile mode '{text}' is not enabled, disabled or reset."),
            )
        }),
    }
}

/// The workspaces whose launch offers a profile mode to this user: those with a profile
/// location, when the user's groups allow persistent profiles.
pub async fn profile_workspaces(db: &PgPool, user_id: Uuid) -> Result<Vec<String>, AppError> {
    let policy = store::group_access::policy_of(db, user_id).await?;
    if !policy.allows("allow_persistent_profile") {
        return Ok(Vec::new());
    }
    let images = store::profiles::images_with_profile(db).await?;
    Ok(images.into_iter().map(|id| id.to_string()).collect())
}

/// A user's profiles, as Admin → Users shows them.
pub async fn profiles_of(db: &PgPool, user_id: Uuid) -> Result<Vec<ProfileRow>, AppError> {
    Ok(store::profiles::of_user(db, user_id)
        .await?
        .into_iter()
        .map(|profile| ProfileRow {
            hostname: profile.hostname,
            profile_path: profile.profile_path,
            image: profile.image.unwrap_or_default(),
            last_used: profile.last_used.to_rfc3339(),
            in_use_by: profile.in_use_by.map(|id| id.to_string()),
        })
        .collect())
}
