//! The agent's HTTP API, called by the manager with this agent's own API secret (sent in its
//! check-ins). What it is asked to create is checked first (`validate`).
use super::runtime::{Action, RuntimeError};
use super::{AdoptError, Agent, LaunchError};
use crate::credentials::bearer;
use crate::protocol::{
    AdoptSession, CreateSession, CreatedSession, ExecOutput, ExecRequest, ReplaceSecret,
    StartSession,
};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::sync::Arc;
use uuid::Uuid;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/v1/sessions", post(create))
        .route("/v1/sessions/{session_id}", delete(remove).get(endpoint))
        .route("/v1/sessions/{session_id}/start", post(start))
        .route("/v1/sessions/{session_id}/adopt", post(adopt))
        .route("/v1/sessions/{session_id}/exec", post(exec))
        .route("/v1/sessions/{session_id}/secret", post(replace_secret))
        .route(
            "/v1/sessions/{session_id}/stream",
            get(super::tunnel::stream),
        )
        .route("/v1/sessions/{session_id}/{action}", post(act))
        .route("/v1/profiles/delete", post(super::storage_api::delete))
        .merge(super::files_api::routes())
        .layer(middleware::from_fn_with_state(agent.clone(), authorize))
        .with_state(agent)
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(crate::protocol::AgentError {
            error: message.into(),
            field: None,
        }),
    )
        .into_response()
}

/// A refused request field: 400 naming it.
pub(super) fn bad_field(refusal: super::validate::Refusal) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(crate::protocol::AgentError {
            error: refusal.message,
            field: Some(refusal.field.to_owned()),
        }),
    )
        .into_response()
}

async fn authorize(State(agent): State<Arc<Agent>>, request: Request, next: Next) -> Response {
    if bearer(request.headers()).is_some_and(|secret| agent.is_manager(secret)) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "not this agent's API secret (the manager learns it from this agent's check-ins)",
        )
    }
}

pub(super) fn runtime_error(failure: RuntimeError) -> Response {
    let status = match failure {
        RuntimeError::NotFound(_) => StatusCode::NOT_FOUND,
        RuntimeError::ImageMissing(_) | RuntimeError::NotRunning(_) => StatusCode::CONFLICT,
        RuntimeError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
        RuntimeError::Refused(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, failure.to_string())
}

/// A failed start, by kind: the agent not ready yet (503), what the runtime said (as
/// `runtime_error`), a desktop that never answered (502).
pub(super) fn launch_error(failure: LaunchError) -> Response {
    match failure {
        LaunchError::Runtime(failure) => runtime_error(failure),
        LaunchError::NotCheckedIn | LaunchError::NotIsolated(_) => {
            error(StatusCode::SERVICE_UNAVAILABLE, failure.to_string())
        }
        LaunchError::NotStreaming(_) => error(StatusCode::BAD_GATEWAY, failure.to_string()),
    }
}

async fn create(State(agent): State<Arc<Agent>>, Json(spec): Json<CreateSession>) -> Response {
    if let Err(refusal) = super::validate::create_session(&spec) {
        tracing::warn!(session_id = %spec.session_id, field = refusal.field, "refused a session: {}", refusal.message);
        return bad_field(refusal);
    }
    let spec = match super::storage_api::prepared(&agent, spec).await {
        Ok(spec) => spec,
        Err(refused) => return refused,
    };
    match agent.create_session(&spec).await {
        Ok(created) => (StatusCode::CREATED, Json::<CreatedSession>(created)).into_response(),
        Err(failure) => launch_error(failure),
    }
}

async fn start(
    State(agent): State<Arc<Agent>>,
    Path(session_id): Path<Uuid>,
    Json(start): Json<StartSession>,
) -> Response {
    match agent.start_session(session_id, &start.secret).await {
        Ok(started) => Json::<CreatedSession>(started).into_response(),
        Err(failure) => launch_error(failure),
    }
}

/// Which container is the session's now and where it streams (404 when there is none, 409
/// when it is not running).
async fn endpoint(State(agent): State<Arc<Agent>>, Path(session_id): Path<Uuid>) -> Response {
    match agent.runtime.streaming(session_id).await {
        Ok((container_id, port)) => Json(agent.created(container_id, port)).into_response(),
        Err(failure) => runtime_error(failure),
    }
}

/// Takes over a launch that was under way when Berth stopped.
async fn adopt(
    State(agent): State<Arc<Agent>>,
    Path(session_id): Path<Uuid>,
    Json(adopt): Json<AdoptSession>,
) -> Response {
    let wait = std::time::Duration::from_secs(adopt.wait_secs.min(120));
    match agent.adopt_session(session_id, &adopt.secret, wait).await {
        Ok(found) => Json::<CreatedSession>(found).into_response(),
        Err(AdoptError::NoContainer) => error(
            StatusCode::NOT_FOUND,
            format!("no session container for {session_id}"),
        ),
        Err(AdoptError::Failed(message)) => error(StatusCode::CONFLICT, message),
    }
}

/// Hands a staged session over: its VNC password becomes the owner's new secret.
async fn replace_secret(
    State(agent): State<Arc<Agent>>,
    Path(session_id): Path<Uuid>,
    Json(replace): Json<ReplaceSecret>,
) -> Response {
    match agent
        .runtime
        .replace_secret(session_id, &replace.secret)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(failure) => runtime_error(failure),
    }
}

/// Runs a command in the session's container; the answer carries its exit code and output.
async fn exec(
    State(agent): State<Arc<Agent>>,
    Path(session_id): Path<Uuid>,
    Json(request): Json<ExecRequest>,
) -> Response {
    match agent.runtime.exec(session_id, &request).await {
        Ok(output) => Json::<ExecOutput>(output).into_response(),
        Err(failure) => runtime_error(failure),
    }
}

async fn remove(State(agent): State<Arc<Agent>>, Path(session_id): Path<Uuid>) -> Response {
    match agent.remove_session(session_id).await {
        Ok(removed) => Json(serde_json::json!({ "removed": removed })).into_response(),
        Err(failure) => runtime_error(failure),
    }
}

async fn act(
    State(agent): State<Arc<Agent>>,
    Path((session_id, action)): Path<(Uuid, String)>,
) -> Response {
    let action = match action.as_str() {
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "stop" => Action::Stop,
        other => return error(StatusCode::NOT_FOUND, format!("unknown action {other}")),
    };
    match agent.runtime.act(session_id, action).await {
        Ok(()) => Json(serde_json::json!({})).into_response(),
        Err(failure) => runtime_error(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manager and an operator reading the agent's log tell a missing image, a Docker
    /// that is down, an agent not ready yet and a desktop that never answered apart.
    #[test]
    fn each_kind_of_failed_start_has_its_own_status() {
        let status = |failure| launch_error(failure).status();
        assert_eq!(
            status(LaunchError::Runtime(RuntimeError::ImageMissing(
                "berth/none".into()
            ))),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(LaunchError::Runtime(RuntimeError::Unreachable(
                "down".into()
            ))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(LaunchError::Runtime(RuntimeError::Refused(
                "host network".into()
            ))),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(LaunchError::NotCheckedIn),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(LaunchError::NotIsolated(
                crate::agent::isolation::IsolationError::NoIptables("not found".into())
            )),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(LaunchError::NotStreaming("no ServerInit in 90 s".into())),
            StatusCode::BAD_GATEWAY
        );
    }
}
