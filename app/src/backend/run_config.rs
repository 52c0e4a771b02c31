//! An image's `run_config`: the container settings an admin may add. Only a safe subset is
//! accepted, so a registered image cannot ask for privileges.
use crate::AppError;
use serde_json::Value;

/// The keys run_config may carry, and what each must be.
pub const ALLOWED_KEYS: &[&str] = &["environment", "hostname", "shm_size"];

pub fn validate(value: &Value) -> Result<(), AppError> {
    let invalid = |message: String| AppError::invalid("run_config", message);
    let object = value.as_object().ok_or_else(|| {
        invalid("run_config must be a JSON object, e.g. {\"shm_size\": 536870912}.".into())
    })?;
    for (key, entry) in object {
        match key.as_str() {
            "environment" => {
                let env = entry.as_object().ok_or_else(|| {
                    invalid("run_config.environment must be an object of strings.".into())
                })?;
                for (name, value) in env {
                    if name.is_empty() || name.contains('=') || !value.is_string() {
                        return Err(invalid(format!("run_config.environment.{name} must be a string with a name without '='.")));
                    }
                    if name.starts_with("BERTH_") {
                        return Err(invalid(format!(
                            "run_config.environment.{name}: BERTH_ variables are set by Berth."
                        )));
                    }
                }
            }
            "hostname" => {
                let ok = entry.as_str().is_some_and(|name| {
                    !name.is_empty()
                        && name.len() <= 63
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                if !ok {
                    return Err(invalid(
                        "run_config.hostname must be a host name (letters, digits, -).".into(),
                    ));
                }
            }
            "shm_size" => {
                if entry.as_i64().is_none_or(|size| size <= 0) {
                    return Err(invalid(
                        "run_config.shm_size must be a positive number of bytes.".into(),
                    ));
                }
            }
            other => {
                return Err(invalid(format!(
                    "run_config.{other} is not supported (allowed: {}).",
                    ALLOWED_KEYS.join(", ")
                )))
            }
        }
    }
    Ok(())
}

/// Parses and validates run_config text from a form.
pub fn parse(text: &str) -> Result<Value, AppError> {
    let text = text.trim();
    let value: Value = if text.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(text).map_err(|error| {
            AppError::invalid(
                "run_config",
                format!("run_config is not valid JSON: {error}"),
            )
        })?
    };
    validate(&value)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_safe_subset_is_accepted() {
        assert!(validate(&json!({})).is_ok());
        assert!(validate(
            &json!({"environment": {"LANG": "de_DE.UTF-8"}, "hostname": "desk-1", "shm_size": 1024})
        )
        .is_ok());
    }

    #[test]
    fn privileges_and_malformed_values_are_refused() {
        for bad in [
            json!([]),
            json!({"privileged": true}),
            json!({"cap_add": ["SYS_ADMIN"]}),
            json!({"environment": {"A": 1}}),
            json!({"environment": {"BERTH_SESSION_SECRET": "x"}}),
            json!({"hostname": "bad host"}),
            json!({"shm_size": -1}),
        ] {
            let error = validate(&bad).unwrap_err();
            assert_eq!(error.field(), Some("run_config"), "{bad}");
        }
        assert!(parse("{not json")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        assert_eq!(parse("").unwrap(), json!({}));
    }
}
