//! Admin → Developers: API keys for the Kasm-compatible Developer API.
use crate::model::{ApiKeyRow, NewApiKey};
use crate::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "admin/list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyRow>, AppError> {
    use crate::backend;
    backend::auth::require_admin().await?;
    backend::api_keys::list(&backend::app_state().db).await
}

/// Creates a key; `permissions` is a comma-separated list; `expires` is empty or YYYY-MM-DD.
#[server(prefix = "/rpc", endpoint = "admin/create_api_key")]
pub async fn create_api_key(
    name: String,
    permissions: String,
    read_only: Option<String>,
    expires: String,
) -> Result<NewApiKey, AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let permissions: Vec<String> = permissions
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let expires = match expires.trim() {
        "" => None,
        day => Some(
            chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| AppError::invalid("expires", "Give the expiry as YYYY-MM-DD."))?
                .and_hms_opt(23, 59, 59)
                .expect("valid time")
                .and_utc(),
        ),
    };
    let db = backend::app_state().db;
    let read_only = read_only.is_some_and(|v| v == "on" || v == "true");
    let (api_key, api_key_secret) =
        backend::api_keys::create(&db, &name, &permissions, read_only, expires, admin.user_id)
            .await?;
    backend::audit::ok(&db, admin.user_id, "create_api_key", &api_key).await;
    Ok(NewApiKey {
        api_key,
        api_key_secret,
    })
}

#[server(prefix = "/rpc", endpoint = "admin/revoke_api_key")]
pub async fn revoke_api_key(api_key_id: String) -> Result<(), AppError> {
    use crate::backend;
    let admin = backend::auth::require_admin().await?;
    let id = backend::validate::uuid("api_key_id", &api_key_id)?;
    let db = backend::app_state().db;
    backend::api_keys::revoke(&db, id).await?;
    backend::audit::ok(&db, admin.user_id, "revoke_api_key", id.to_string()).await;
    Ok(())
}
