//! Deployment-wide settings: each with its type and its default here and nowhere else (the
//! defaults are the values the first migration writes, for a row that is missing or holds
//! something of the wrong type). Read all at once: there are a handful, one query.
use crate::StoreError;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a session lives without a keepalive.
    pub session_lifetime_seconds: i64,
    /// How far a keepalive pushes a session's expiration forward.
    pub keepalive_seconds: i64,
    /// Sessions one user may run at once (0 = no limit).
    pub max_kasms_per_user: i64,
    /// Whether owners may share their sessions.
    pub allow_kasm_sharing: bool,
    /// How long a browser sign-in lasts.
    pub login_session_hours: i64,
    /// How many days audit log entries are kept (older ones are purged daily).
    pub audit_retention_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_lifetime_seconds: 3600,
            keepalive_seconds: 3600,
            max_kasms_per_user: 2,
            allow_kasm_sharing: true,
            login_session_hours: 12,
            audit_retention_days: 90,
        }
    }
}

impl Settings {
    /// The values these give group settings that no group of a user sets (see `policy`).
    pub fn group_defaults(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("max_kasms_per_user", self.max_kasms_per_user.into()),
            ("allow_kasm_sharing", self.allow_kasm_sharing.into()),
            ("keepalive_expiration", self.keepalive_seconds.into()),
        ]
    }

    /// Takes one stored row; a known name holding the wrong type keeps its default (and says
    /// so), an unknown name is ignored.
    fn apply(&mut self, name: &str, value: &serde_json::Value) {
        let number = |field: &mut i64| match value.as_i64() {
            Some(n) => *field = n,
            None => tracing::warn!(name, %value, "setting is not an integer; using its default"),
        };
        match name {
            "session_lifetime_seconds" => number(&mut self.session_lifetime_seconds),
            "keepalive_seconds" => number(&mut self.keepalive_seconds),
            "max_kasms_per_user" => number(&mut self.max_kasms_per_user),
            "login_session_hours" => number(&mut self.login_session_hours),
            "audit_retention_days" => number(&mut self.audit_retention_days),
            "allow_kasm_sharing" => match value.as_bool() {
                Some(allowed) => self.allow_kasm_sharing = allowed,
                None => {
                    tracing::warn!(name, %value, "setting is not true/false; using its default")
                }
            },
            _ => {}
        }
    }
}

/// Every setting, stored values over defaults.
pub async fn load(db: &PgPool) -> Result<Settings, StoreError> {
    let rows = sqlx::query!("SELECT name, value FROM settings")
        .fetch_all(db)
        .await?;
    let mut settings = Settings::default();
    for row in rows {
        settings.apply(&row.name, &row.value);
    }
    Ok(settings)
}

/// The settings from a JSON object of the stored rows by name (`json_object_agg(name,
/// value)` over the table; None when it is empty), stored values over defaults.
pub(crate) fn from_object(rows: Option<&serde_json::Value>) -> Settings {
    let mut settings = Settings::default();
    if let Some(serde_json::Value::Object(rows)) = rows {
        for (name, value) in rows {
            settings.apply(name, value);
        }
    }
    settings
}

/// Sets how many days audit log entries are kept.
pub async fn set_audit_retention_days(db: &PgPool, days: i64) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO settings (name, value, description)
           VALUES ('audit_retention_days', to_jsonb($1::int8), 'How many days audit log entries are kept.')
           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated = now()"#,
        days
    )
    .execute(db)
    .await?;
    Ok(())
}

/// This deployment's id (made by a migration), which marks the containers its agents own.
pub async fn deployment_id(db: &PgPool) -> Result<String, StoreError> {
    let id =
        sqlx::query_scalar!("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_optional(db)
            .await?
            .flatten();
    id.ok_or(StoreError::NotFound("the deployment_id setting"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_values_override_defaults_and_bad_ones_keep_them() {
        let mut settings = Settings::default();
        settings.apply("max_kasms_per_user", &json!(5));
        settings.apply("allow_kasm_sharing", &json!(false));
        settings.apply("keepalive_seconds", &json!("soon"));
        settings.apply("login_session_hours", &json!(null));
        settings.apply("no_such_setting", &json!(1));
        assert_eq!(
            settings,
            Settings {
                max_kasms_per_user: 5,
                allow_kasm_sharing: false,
                ..Settings::default()
            }
        );
    }
}
