//! Admin → Staging: the form's text validated here (each refusal names its field), the
//! configs in `store::staging`. The manager's pool follows the configs at its next sweep.
use super::validate;
use crate::model::StagingRow;
use crate::AppError;
use sqlx::PgPool;
use store::staging::ConfigInput;
use uuid::Uuid;

/// The most sessions one config may keep ready.
pub const MAX_DESIRED: i32 = 100;
/// A staged session waits at least a minute and at most a week.
pub const MIN_EXPIRY_SECS: i32 = 60;
pub const MAX_EXPIRY_SECS: i32 = 7 * 24 * 60 * 60;

/// What the admin fills in (form text).
#[derive(Debug, Clone, Default)]
pub struct StagingForm {
    pub image_id: String,
    /// Empty: any agent.
    pub server_id: String,
    pub desired: String,
    /// Seconds, or with a unit: 90s, 30m, 2h, 1d.
    pub expiry: String,
}

/// Seconds from "600", "90s", "30m", "2h" or "1d".
fn seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return None,
    };
    number.trim().parse::<i64>().ok()?.checked_mul(scale)
}

/// Validates the form; every refusal names its field.
pub fn parse(form: &StagingForm) -> Result<ConfigInput, AppError> {
    let image_id = validate::uuid("image_id", &form.image_id)?;
    let server_id = match form.server_id.trim() {
        "" => None,
        text => Some(validate::uuid("server_id", text)?),
    };
    let desired = form
        .desired
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (0..=MAX_DESIRED).contains(n))
        .ok_or_else(|| {
            AppError::invalid(
                "desired",
                format!(
                    "The number of ready sessions must be a whole number from 0 to {MAX_DESIRED}."
                ),
            )
        })?;
    let expiry_secs = seconds(&form.expiry)
        .filter(|s| (i64::from(MIN_EXPIRY_SECS)..=i64::from(MAX_EXPIRY_SECS)).contains(s))
        .ok_or_else(|| {
            AppError::invalid(
                "expiry",
                "The expiry must be from 60 seconds to 7 days (e.g. 600, 30m, 2h, 1d).",
            )
        })? as i32;
    Ok(ConfigInput {
        image_id,
        server_id,
        desired,
        expiry_secs,
    })
}

pub async fn list(db: &PgPool) -> Result<Vec<StagingRow>, AppError> {
    Ok(store::staging::list(db)
        .await?
        .into_iter()
        .map(|c| StagingRow {
            staging_config_id: c.staging_config_id,
            image_id: c.image_id,
            image_name: c.image_name,
            server_id: c.server_id,
            server_name: c.server_name,
            desired: c.desired,
            expiry_secs: c.expiry_secs,
            ready: c.ready,
            starting: c.starting,
            used: c.used,
        })
        .collect())
}

/// Creates (`id` None) or updates a config from the form.
pub async fn save(db: &PgPool, id: Option<Uuid>, form: &StagingForm) -> Result<Uuid, AppError> {
    let input = parse(form)?;
    let (image, server) =
        store::staging::targets_exist(db, input.image_id, input.server_id).await?;
    if !image {
        return Err(AppError::invalid(
            "image_id",
            "No such image is registered.",
        ));
    }
    if !server {
        return Err(AppError::invalid(
            "server_id",
            "No such server is registered.",
        ));
    }
    let saved = match id {
        None => store::staging::create(db, &input).await,
        Some(id) => store::staging::update(db, id, &input).await.map(|()| id),
    };
    saved.map_err(|error| match error {
        store::StoreError::Conflict { .. } => AppError::conflict(
            "image_id",
            "This image already has a staging config for that server (edit it instead).",
        ),
        other => other.into(),
    })
}

/// Deletes the config; the manager recycles its staged sessions.
pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), AppError> {
    Ok(store::staging::delete(db, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(desired: &str, expiry: &str) -> StagingForm {
        StagingForm {
            image_id: Uuid::new_v4().to_string(),
            server_id: String::new(),
            desired: desired.into(),
            expiry: expiry.into(),
        }
    }

    fn field(result: Result<ConfigInput, AppError>) -> String {
        result.unwrap_err().field().unwrap_or_default().to_owned()
    }

    #[test]
    fn a_good_form_is_read_with_units() {
        let input = parse(&form(" 3 ", "30m")).unwrap();
        assert_eq!(
            (input.desired, input.expiry_secs, input.server_id),
            (3, 1800, None)
        );
        assert_eq!(parse(&form("0", "600")).unwrap().expiry_secs, 600);
        assert_eq!(parse(&form("1", "1d")).unwrap().expiry_secs, 86400);
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field(parse(&form("-1", "600"))), "desired");
        assert_eq!(field(parse(&form("101", "600"))), "desired");
        assert_eq!(field(parse(&form("two", "600"))), "desired");
        assert_eq!(field(parse(&form("1", "59"))), "expiry");
        assert_eq!(field(parse(&form("1", "8d"))), "expiry");
        assert_eq!(field(parse(&form("1", "10x"))), "expiry");
        assert_eq!(field(parse(&form("1", ""))), "expiry");
        let mut bad = form("1", "600");
        bad.image_id = "nope".into();
        assert_eq!(field(parse(&bad)), "image_id");
        let mut bad = form("1", "600");
        bad.server_id = "nope".into();
        assert_eq!(field(parse(&bad)), "server_id");
    }
}
