//! Session ("kasm") and image endpoints.
use super::{date, id, ApiError, ApiResult, Body};
use crate::manager::Manager;
use app::backend::AppState;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

pub async fn dispatch(
    state: &AppState,
    manager: &Arc<Manager>,
    endpoint: &str,
    body: &Body,
) -> ApiResult {
    match endpoint {
        "request_kasm" => request_kasm(state, manager, body).await,
        "get_kasm_status" => get_kasm_status(state, body).await,
        "get_kasms" => Ok(
            json!({ "kasms": kasms(state, None).await?, "current_time": date(chrono::Utc::now()) }),
        ),
        "get_user_kasms" => {
            let user_id = body.uuid(&["user_id"], "user_id")?;
            Ok(json!({ "kasms": kasms(state, Some(user_id)).await? }))
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
        "pause_kasm" | "resume_kasm" => {
            let kasm_id = owned(state, body).await?;
            manager
                .set_paused(kasm_id, endpoint == "pause_kasm")
                .await?;
            Ok(json!({}))
        }
        "get_images" => get_images(state).await,
        _ => Err(ApiError::NotFound(format!("Unknown endpoint {endpoint}"))),
    }
}

/// The kasm_id of a call that names its user_id too, checked to belong together.
async fn owned(state: &AppState, body: &Body) -> Result<Uuid, ApiError> {
    let user_id = body.uuid(&["user_id"], "user_id")?;
    let kasm_id = body.uuid(&["kasm_id"], "kasm_id")?;
    let owner = sqlx::query_scalar!("SELECT user_id FROM kasms WHERE kasm_id = $1", kasm_id)
        .fetch_optional(&state.db)
        .await
        .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
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
    let username = sqlx::query_scalar!("SELECT username FROM users WHERE user_id = $1", user_id)
        .fetch_optional(&state.db)
        .await
        .map_err(|e| ApiError::App(app::backend::db_error(e)))?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    let kasm_id = manager.request_session(user_id, image_id).await?;
    Ok(json!({
        "kasm_id": id(kasm_id),
        "status": "starting",
        "share_id": Value::Null,
        "user_id": id(user_id),
        "username": username,
        "kasm_url": format!("/session/{kasm_id}"),
    }))
}

async fn get_kasm_status(state: &AppState, body: &Body) -> ApiResult {
    let user_id = body.uuid(&["user_id"], "user_id")?;
    let kasm_id = body.uuid(&["kasm_id"], "kasm_id")?;
    let list = kasms(state, Some(user_id)).await?;
    let kasm = list
        .into_iter()
        .find(|k| k["kasm_id"] == id(kasm_id))
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
    Ok(json!({
        "kasm": kasm,
        "kasm_url": format!("/session/{kasm_id}"),
        "current_time": date(chrono::Utc::now()),
    }))
}

/// Session objects (not deleted), all or one user's.
async fn kasms(state: &AppState, user_id: Option<Uuid>) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT k.kasm_id, k.user_id, k.image_id, k.server_id, k.container_id, k.hostname, k.port,
                  k.operational_status, k.operational_message, k.operational_progress, k.share_id, k.cores,
                  k.memory, k.start_date, k.keepalive_date, k.expiration_date, k.created_date,
                  i.name, i.friendly_name, i.image_src, (SELECT value FROM settings WHERE name = 'allow_kasm_sharing') AS sharing
           FROM kasms k JOIN images i ON i.image_id = k.image_id
           WHERE k.operational_status <> 'deleted' AND ($1::uuid IS NULL OR k.user_id = $1)
           ORDER BY k.created_date"#,
        user_id
    )
    .fetch_all(&state.db)
    .await
    .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
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
                    "allow_kasm_sharing": row.sharing.and_then(|v| v.as_bool()).unwrap_or(false),
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
