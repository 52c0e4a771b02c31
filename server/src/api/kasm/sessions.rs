//! Session ("kasm") and image endpoints.
use super::{date, id, ApiError, ApiResult, Body};
use crate::manager::{LaunchOptions, Manager};
use app::backend::{connect, sharing, AppState};
use app::model::SessionChange;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// `may_sign_in`: whether the key may mint sign-in links (`kasm_url`); a read-only key may not.
pub async fn dispatch(
    state: &AppState,
    manager: &Arc<Manager>,
    endpoint: &str,
    body: &Body,
    may_sign_in: bool,
) -> ApiResult {
    match endpoint {
        "request_kasm" => request_kasm(state, manager, body).await,
        "get_kasm_status" => get_kasm_status(state, body, may_sign_in).await,
        "get_kasms" => Ok(
            json!({ "kasms": kasms(state, None, None).await?, "current_time": date(chrono::Utc::now()) }),
        ),
        "get_user_kasms" => {
            let user_id = body.uuid(&["user_id"], "user_id")?;
            Ok(json!({ "kasms": kasms(state, Some(user_id), None).await? }))
        }
        "destroy_kasm" => {
            let kasm_id = owned(state, body).await?;
            manager
                .destroy_session(kasm_id, "Destroyed through the API.")
                .await?;
            Ok(json!({}))
        }
        "keepalive" => {
            let kasm_id = body.uuid(&["kasm_id"], "kasm_id")?;
            manager.keepalive(kasm_id).await?;
            Ok(json!({}))
        }
        "pause_kasm" | "resume_kasm" | "stop_kasm" => {
            let kasm_id = owned(state, body).await?;
            let change = match endpoint {
                "pause_kasm" => SessionChange::Pause,
                "stop_kasm" => SessionChange::Stop,
                _ => SessionChange::Resume,
            };
            manager.change_session(kasm_id, change).await?;
            Ok(json!({}))
        }
        "join_kasm" => join_kasm(state, body).await,
        "get_images" => get_images(state).await,
        _ => Err(ApiError::NotFound(format!("Unknown endpoint {endpoint}"))),
    }
}

/// The kasm_id of a call that names its user_id too, checked to belong together.
pub(super) async fn owned(state: &AppState, body: &Body) -> Result<Uuid, ApiError> {
    let user_id = body.uuid(&["user_id"], "user_id")?;
    let kasm_id = body.uuid(&["kasm_id"], "kasm_id")?;
    let owner = store::sessions::owner_of(&state.db, kasm_id)
        .await
        .map_err(|e| ApiError::App(e.into()))?;
    match owner {
        Some(owner) if owner == user_id => Ok(kasm_id),
        Some(_) => Err(ApiError::Invalid(
            "The kasm does not belong to that user".into(),
        )),
        None => Err(ApiError::NotFound("Kasm not found".into())),
    }
}

async fn request_kasm(state: &AppState, manager: &Arc<Manager>, body: &Body) -> ApiResult {
    let user_id = body.uuid(&["user_id"], "user_id")?;
    let image_id = body.uuid(&["image_id"], "image_id")?;
    let options = launch_options(body)?;
    let enable_sharing = match body.get(&["enable_sharing"]) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(on)) => *on,
        Some(_) => {
            return Err(ApiError::Invalid(
                "Invalid Parameters: enable_sharing must be true or false".into(),
            ))
        }
    };
    let username = store::users::username_of(&state.db, user_id)
        .await
        .map_err(|e| ApiError::App(e.into()))?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    let kasm_id = manager
        .request_session_with(user_id, image_id, options)
        .await?;
    let share_id = if enable_sharing {
        sharing::set_sharing(state, user_id, kasm_id, true)
            .await?
            .share_id
    } else {
        None
    };
    let (session_token, kasm_url) = sign_in_link(state, user_id, kasm_id, None).await?;
    Ok(json!({
        "kasm_id": id(kasm_id),
        "status": "starting",
        "share_id": share_id,
        "user_id": id(user_id),
        "username": username,
        "session_token": session_token,
        "kasm_url": kasm_url,
    }))
}

/// request_kasm's `environment`, `kasm_url` (a browser workspace's first page),
/// `client_language` (LANG) and `client_timezone` (TZ), checked.
fn launch_options(body: &Body) -> Result<LaunchOptions, ApiError> {
    let mut environment = environment(body)?;
    let optional = |name: &str| match body.get(&[name]) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::Invalid(format!(
            "Invalid Parameters: {name} must be a string"
        ))),
    };
    let start_url = optional("kasm_url")?;
    if let Some(url) = &start_url {
        let lower = url.to_ascii_lowercase();
        let web = lower.starts_with("https://") || lower.starts_with("http://");
        if !web || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApiError::Invalid(
                "Invalid Parameters: kasm_url must be an http(s) URL".into(),
            ));
        }
    }
    for (field, variable, extra) in [
        ("client_language", "LANG", "._@-"),
        ("client_timezone", "TZ", "/_+-"),
    ] {
        if let Some(value) = optional(field)? {
            let valid = value.len() <= 64
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
            if !valid {
                return Err(ApiError::Invalid(format!(
                    "Invalid Parameters: {field} '{value}' is not a valid value"
                )));
            }
            environment
                .entry(variable.to_owned())
                .or_insert(Value::String(value));
        }
    }
    Ok(LaunchOptions {
        environment,
        start_url,
    })
}

/// `environment`: an object of string values, passed to the container.
fn environment(body: &Body) -> Result<serde_json::Map<String, Value>, ApiError> {
    let invalid = || {
        ApiError::Invalid(
            "Invalid Parameters: environment must be an object of variable names and string values"
                .into(),
        )
    };
    match body.get(&["environment"]) {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(Value::Object(vars)) => {
            if let Some(problem) = vars
                .keys()
                .find_map(|name| super::environment::refusal(name))
            {
                return Err(ApiError::Invalid(format!("Invalid Parameters: {problem}")));
            }
            if vars
                .values()
                .all(|value| value.as_str().is_some_and(|v| !v.contains('\0')))
            {
                Ok(vars.clone())
            } else {
                Err(invalid())
            }
        }
        Some(_) => Err(invalid()),
    }
}

/// A fresh `session_token` and the `kasm_url` that redeems it (earlier tokens stop working).
async fn sign_in_link(
    state: &AppState,
    user_id: Uuid,
    kasm_id: Uuid,
    share_id: Option<&str>,
) -> Result<(String, String), ApiError> {
    let token = connect::issue(&state.db, user_id, kasm_id, share_id).await?;
    let url = connect::url(kasm_id, user_id, &token);
    Ok((token, url))
}

async fn get_kasm_status(state: &AppState, body: &Body, may_sign_in: bool) -> ApiResult {
    let user_id = body.uuid(&["user_id"], "user_id")?;
    let kasm_id = body.uuid(&["kasm_id"], "kasm_id")?;
    let kasm = kasms(state, Some(user_id), Some(kasm_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound("Kasm not found".into()))?;
    let status = kasm["operational_status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if matches!(status.as_str(), "requested" | "provisioning" | "starting") {
        return Ok(json!({
            "kasm_id": id(kasm_id),
            "status": status,
            "operational_status": status,
            "operational_message": kasm["operational_message"],
            "operational_progress": kasm["operational_progress"],
        }));
    }
    if !may_sign_in {
        // A read-only key reads the session; it never gets a way to sign in as its user.
        return Ok(json!({ "kasm": kasm, "current_time": date(chrono::Utc::now()) }));
    }
    let (session_token, kasm_url) = sign_in_link(state, user_id, kasm_id, None).await?;
    Ok(json!({
        "kasm": kasm,
        "kasm_url": kasm_url,
        "session_token": session_token,
        "current_time": date(chrono::Utc::now()),
    }))
}

/// What join_kasm leaves out of a session object for a viewer: where the session runs, and
/// its owner.
pub(super) const HIDDEN_FROM_VIEWERS: &[&str] = &[
    "container_id",
    "server_id",
    "hostname",
    "port_map",
    "user_id",
];

/// Joins a shared session as a viewer (recorded like a join through the link).
async fn join_kasm(state: &AppState, body: &Body) -> ApiResult {
    let user_id = body.uuid(&["user_id"], "user_id")?;
    // Kasm documents share_id; some clients send shared_id.
    let share_id = body
        .string(&["share_id"], "share_id")
        .or_else(|_| body.string(&["shared_id"], "share_id"))?;
    if share_id.is_empty() {
        return Err(ApiError::Missing("share_id"));
    }
    let username = store::users::username_of(&state.db, user_id)
        .await
        .map_err(|e| ApiError::App(e.into()))?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    let joined = match sharing::join(state, user_id, &share_id).await {
        Ok(joined) => joined,
        Err(app::AppError::Forbidden) => {
            return Err(ApiError::NotFound(
                "No session is shared under that share_id".into(),
            ))
        }
        Err(error) => return Err(error.into()),
    };
    let mut kasm = kasms(state, None, Some(joined.kasm_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound("Kasm not found".into()))?;
    if let Some(object) = kasm.as_object_mut() {
        for private in HIDDEN_FROM_VIEWERS {
            object.remove(*private);
        }
        object.insert("view_only".into(), Value::Bool(true));
    }
    let (session_token, kasm_url) =
        sign_in_link(state, user_id, joined.kasm_id, Some(&share_id)).await?;
    Ok(json!({
        "kasm": kasm,
        "kasm_url": kasm_url,
        "session_token": session_token,
        "username": username,
        "user_id": id(user_id),
    }))
}

/// Session objects (not deleted): all, one user's, or one.
pub(super) async fn kasms(
    state: &AppState,
    user_id: Option<Uuid>,
    kasm_id: Option<Uuid>,
) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT k.kasm_id, k.user_id, k.image_id, k.server_id, k.container_id, k.hostname, k.port,
                  k.operational_status, k.operational_message, k.operational_progress, k.share_id, k.cores,
                  k.memory, k.start_date, k.keepalive_date, k.expiration_date, k.created_date,
                  i.name, i.friendly_name, i.image_src
           FROM kasms k JOIN images i ON i.image_id = k.image_id
           WHERE k.operational_status <> 'deleted' AND ($1::uuid IS NULL OR k.user_id = $1)
             AND ($2::uuid IS NULL OR k.kasm_id = $2)
           ORDER BY k.created_date"#,
        user_id,
        kasm_id,
    )
    .fetch_all(&state.db)
    .await
    .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sharing = store::settings::load(&state.db)
        .await
        .map_err(|e| ApiError::App(e.into()))?
        .allow_kasm_sharing;
    Ok(rows
        .into_iter()
        .map(|row| {
            json!({
                "kasm_id": id(row.kasm_id),
                "user_id": id(row.user_id),
                "image_id": id(row.image_id),
                "image": { "image_id": id(row.image_id), "name": row.name, "friendly_name": row.friendly_name, "image_src": row.image_src },
                "operational_status": row.operational_status,
                "operational_message": row.operational_message,
                "operational_progress": row.operational_progress,
                "container_id": row.container_id,
                "server_id": row.server_id.map(id),
                "hostname": row.hostname,
                "port_map": { "vnc": { "port": row.port, "path": format!("desktop/{}", row.kasm_id) } },
                "share_id": row.share_id,
                "cores": row.cores,
                "memory": row.memory,
                "start_date": row.start_date.map(date),
                "keepalive_date": row.keepalive_date.map(date),
                "expiration_date": date(row.expiration_date),
                "created_date": date(row.created_date),
                "client_settings": {
                    "allow_kasm_sharing": sharing,
                    "allow_kasm_clipboard_up": true,
                    "allow_kasm_clipboard_down": true,
                    "idle_disconnect": Value::Null,
                },
            })
        })
        .collect())
}

async fn get_images(state: &AppState) -> ApiResult {
    let rows = sqlx::query!(
        r#"SELECT i.image_id, i.name, i.friendly_name, i.description, i.image_src, i.enabled, i.cores, i.memory,
                  i.categories, i.restrict_to_server, i.server_id, i.run_config, i.exec_config, i.volume_mappings,
                  NOT EXISTS (SELECT 1 FROM servers s WHERE s.status = 'online' AND NOT (i.name = ANY(s.images_present)))
                    AND EXISTS (SELECT 1 FROM servers s WHERE s.status = 'online') AS "available!"
           FROM images i ORDER BY i.friendly_name"#
    )
    .fetch_all(&state.db)
    .await
    .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
    let images: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "image_id": id(row.image_id),
                "name": row.name,
                "friendly_name": row.friendly_name,
                "description": row.description,
                "image_src": row.image_src,
                "enabled": row.enabled,
                "available": row.available,
                "cores": row.cores,
                "memory": row.memory,
                "categories": row.categories,
                "restrict_to_server": row.restrict_to_server,
                "server_id": row.server_id.map(id),
                "run_config": row.run_config,
                "exec_config": row.exec_config,
                "volume_mappings": row.volume_mappings,
            })
        })
        .collect();
    Ok(json!({ "images": images }))
}
