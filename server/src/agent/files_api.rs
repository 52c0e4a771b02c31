//! The agent's file endpoints, for the manager only (behind the API's `authorize`): an upload
//! into a session's `~/Uploads`, a download from its `~/Downloads`, its listing. The manager
//! checked who asks; the name is checked here again.
use super::api::error;
use super::Agent;
use crate::files::{names, FileError, Uploaded};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use futures_util::TryStreamExt;
use std::sync::Arc;
use uuid::Uuid;

pub(super) fn routes() -> Router<Arc<Agent>> {
    Router::new()
        .route("/v1/sessions/{session_id}/downloads", get(list))
        .route("/v1/sessions/{session_id}/downloads/{name}", get(download))
        .route("/v1/sessions/{session_id}/uploads/{name}", put(upload))
}

fn refused(failure: FileError) -> Response {
    error(failure.status(), failure.to_string())
}

/// The declared length of the body (uploads must declare it).
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn upload(
    State(agent): State<Arc<Agent>>,
    Path((session_id, name)): Path<(Uuid, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(message) = names::check(&name) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let Some(size) = declared_length(&headers) else {
        return error(
            StatusCode::LENGTH_REQUIRED,
            "An upload must declare its length.",
        );
    };
    let stream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    match agent.runtime.upload(session_id, &name, size, stream).await {
        Ok(size) => Json(Uploaded { name, size }).into_response(),
        Err(failure) => refused(failure),
    }
}

async fn download(
    State(agent): State<Arc<Agent>>,
    Path((session_id, name)): Path<(Uuid, String)>,
) -> Response {
    if let Err(message) = names::check(&name) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    match agent.runtime.download(session_id, &name).await {
        Ok((size, stream)) => (
            [(header::CONTENT_LENGTH, size.to_string())],
            Body::from_stream(stream),
        )
            .into_response(),
        Err(failure) => refused(failure),
    }
}

async fn list(State(agent): State<Arc<Agent>>, Path(session_id): Path<Uuid>) -> Response {
    match agent.runtime.list_downloads(session_id).await {
        Ok(files) => Json(files).into_response(),
        Err(failure) => refused(failure),
    }
}
