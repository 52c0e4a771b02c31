//! The agent API's storage parts: a new session's profile and mappings prepared before its
//! container is made (refused by name, 400), and `POST /v1/profiles/delete`.
use super::api::{bad_field, error};
use super::Agent;
use crate::protocol::{CreateSession, DeleteProfiles, DeletedProfiles};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// The spec with its binds resolved on this host, or the refusal to answer.
pub(super) async fn prepared(
    agent: &Agent,
    mut spec: CreateSession,
) -> Result<CreateSession, Response> {
    let config = agent.config.storage.clone();
    let session_id = spec.session_id;
    let outcome = tokio::task::spawn_blocking(move || {
        super::storage::prepare(&config, &mut spec).map(|()| spec)
    })
    .await;
    match outcome {
        Ok(Ok(spec)) => Ok(spec),
        Ok(Err(refusal)) => {
            tracing::warn!(%session_id, field = refusal.field, "refused a session's storage: {}", refusal.message);
            Err(bad_field(refusal))
        }
        Err(panicked) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            panicked.to_string(),
        )),
    }
}

/// Deletes profile folders under this host's profile root.
pub(super) async fn delete(
    State(agent): State<Arc<Agent>>,
    Json(request): Json<DeleteProfiles>,
) -> Response {
    let config = agent.config.storage.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        super::storage::delete_profiles(&config, &request.paths)
    })
    .await;
    match outcome {
        Ok(Ok(deleted)) => Json(DeletedProfiles { deleted }).into_response(),
        Ok(Err(refusal)) => bad_field(refusal),
        Err(panicked) => error(StatusCode::INTERNAL_SERVER_ERROR, panicked.to_string()),
    }
}
