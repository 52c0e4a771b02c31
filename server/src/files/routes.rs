//! The browser's file endpoints, for the session's owner (`access`):
//! - `GET /files/{session_id}`: what the panel offers (uploads, downloads, the size limit)
//! - `GET /files/{session_id}/downloads`: the files of `~/Downloads`
//! - `GET /files/{session_id}/downloads/{name}`: one of them, streamed, as an attachment
//! - `PUT /files/{session_id}/uploads/{name}`: the body (its length declared) into `~/Uploads`
//!
//! Mounted outside the web app's body limit (`api::router`): an upload is streamed through,
//! its length checked against the owner's limit before a byte is read. Every transfer is
//! audited (`file_upload`, `file_download`).
use super::access::{self, Direction, Facts};
use super::{names, FileError};
use crate::manager::Manager;
use app::backend::{auth, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use berth_model::ControlError;
use futures_util::TryStreamExt;
use serde_json::json;
use std::sync::Arc;
use store::policy::Policy;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/files/{session_id}", get(panel))
        .route("/files/{session_id}/downloads", get(list))
        .route("/files/{session_id}/downloads/{name}", get(download))
        .route(
            "/files/{session_id}/uploads/{name}",
            axum::routing::put(upload).post(upload),
        )
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn control_error(error: ControlError) -> Response {
    let status = match &error {
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Invalid { .. } => StatusCode::BAD_REQUEST,
        ControlError::Conflict(_) => StatusCode::CONFLICT,
        ControlError::NotAllowed(_) | ControlError::LimitReached(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    refuse(status, error.to_string())
}

fn file_error(error: FileError) -> Response {
    refuse(error.status(), error.to_string())
}

/// Who asks, about which session, and what the owner's groups allow.
struct Asked {
    user_id: Uuid,
    session_id: Uuid,
    policy: Policy,
}

/// Gathers the facts and applies `access::owner_only` (and `access::authorize` for a
/// `direction`).
async fn admit(
    state: &AppState,
    session_id: &str,
    headers: &HeaderMap,
    direction: Option<Direction>,
) -> Result<Asked, Response> {
    let unavailable =
        |error: &dyn std::fmt::Display| refuse(StatusCode::SERVICE_UNAVAILABLE, error.to_string());
    let user = auth::user_for_headers(&state.db, headers)
        .await
        .map_err(|error| unavailable(&error))?;
    let Ok(session_id) = Uuid::parse_str(session_id) else {
        let status = if user.is_some() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNAUTHORIZED
        };
        return Err(refuse(status, "No such session."));
    };
    let target = store::sessions::target_of(&state.db, session_id)
        .await
        .map_err(|error| unavailable(&error))?;
    let access = match &user {
        Some(user) => store::sharing::access(&state.db, user.user_id, session_id)
            .await
            .map_err(|error| unavailable(&error))?,
        None => None,
    };
    let mut facts = Facts {
        user: user.as_ref(),
        // A staged session (nobody's yet) is no session to anyone.
        session: target.and_then(|target| Some((target.owner?, target.status))),
        access,
        policy: None,
    };
    access::owner_only(&facts).map_err(|(status, message)| refuse(status, message))?;
    let user_id = user.as_ref().map(|user| user.user_id).unwrap_or_default();
    let policy = store::group_access::policy_of(&state.db, user_id)
        .await
        .map_err(|error| unavailable(&error))?;
    facts.policy = Some(&policy);
    if let Some(direction) = direction {
        access::authorize(&facts, direction)
            .map_err(|(status, message)| refuse(status, message))?;
    }
    Ok(Asked {
        user_id,
        session_id,
        policy,
    })
}

/// Writes the audit row of a transfer.
async fn audit(
    state: &AppState,
    asked: &Asked,
    action: &str,
    name: &str,
    size: u64,
    failure: Option<&str>,
) {
    let target = asked.session_id.to_string();
    let entry = store::audit::Entry {
        actor: store::audit::Actor::User(asked.user_id),
        action,
        target: &target,
        outcome: if failure.is_some() { "failed" } else { "ok" },
        details: json!({ "session_id": target, "name": name, "size": size, "error": failure }),
    };
    store::audit::record(&state.db, entry).await;
}

async fn panel(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let asked = match admit(&state, &session_id, &headers, None).await {
        Ok(asked) => asked,
        Err(refusal) => return refusal,
    };
    Json(json!({
        "uploads": asked.policy.allows(access::ALLOW_UPLOADS),
        "downloads": asked.policy.allows(access::ALLOW_DOWNLOADS),
        "upload_limit_bytes": access::upload_limit(&asked.policy),
    }))
    .into_response()
}

async fn list(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let asked = match admit(&state, &session_id, &headers, Some(Direction::Download)).await {
        Ok(asked) => asked,
        Err(refusal) => return refusal,
    };
    let agent = match manager.file_agent(asked.session_id).await {
        Ok(agent) => agent,
        Err(error) => return control_error(error),
    };
    match crate::manager::files::list(&agent, asked.session_id).await {
        Ok(files) => Json(json!({ "files": files })).into_response(),
        Err(error) => file_error(error),
    }
}

async fn download(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    Path((session_id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let asked = match admit(&state, &session_id, &headers, Some(Direction::Download)).await {
        Ok(asked) => asked,
        Err(refusal) => return refusal,
    };
    if let Err(problem) = names::check(&name) {
        return refuse(StatusCode::BAD_REQUEST, problem);
    }
    let agent = match manager.file_agent(asked.session_id).await {
        Ok(agent) => agent,
        Err(error) => return control_error(error),
    };
    match crate::manager::files::download(&agent, asked.session_id, &name).await {
        Ok((size, stream)) => {
            audit(&state, &asked, "file_download", &name, size, None).await;
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (header::CONTENT_LENGTH, size.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        names::content_disposition(&name),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Err(error) => {
            audit(
                &state,
                &asked,
                "file_download",
                &name,
                0,
                Some(&error.to_string()),
            )
            .await;
            file_error(error)
        }
    }
}

async fn upload(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    Path((session_id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let asked = match admit(&state, &session_id, &headers, Some(Direction::Upload)).await {
        Ok(asked) => asked,
        Err(refusal) => return refusal,
    };
    if let Err(problem) = names::check(&name) {
        return refuse(StatusCode::BAD_REQUEST, problem);
    }
    let Some(size) = crate::agent::declared_length(&headers) else {
        return refuse(
            StatusCode::LENGTH_REQUIRED,
            "An upload must declare its length (Content-Length).",
        );
    };
    if let Err((status, message)) = access::check_size(size, access::upload_limit(&asked.policy)) {
        return refuse(status, message);
    }
    let agent = match manager.file_agent(asked.session_id).await {
        Ok(agent) => agent,
        Err(error) => return control_error(error),
    };
    let stream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let result = crate::manager::files::upload(&agent, asked.session_id, &name, size, stream).await;
    match result {
        Ok(uploaded) => {
            audit(&state, &asked, "file_upload", &name, uploaded.size, None).await;
            (StatusCode::CREATED, Json(uploaded)).into_response()
        }
        Err(error) => {
            audit(
                &state,
                &asked,
                "file_upload",
                &name,
                size,
                Some(&error.to_string()),
            )
            .await;
            file_error(error)
        }
    }
}
