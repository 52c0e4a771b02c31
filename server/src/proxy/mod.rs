//! The proxy role: `/desktop/{kasm_id}/...` reaches that session's container, HTTP and
//! WebSocket, for its owner only. Nothing else reaches a container: the target is always the
//! host and port the manager registered for the session, never anything from the request.
mod http;
mod target;
mod websocket;

use app::backend::{auth, AppState};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
pub use target::{authorize, clean_path, Target};
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/desktop/{kasm_id}", any(root))
        .route("/desktop/{kasm_id}/", any(root))
        .route("/desktop/{kasm_id}/{*rest}", any(forward))
}

pub(crate) fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

async fn root(state: State<AppState>, Path(kasm_id): Path<String>, request: Request) -> Response {
    handle(state, kasm_id, String::new(), request).await
}

async fn forward(
    state: State<AppState>,
    Path((kasm_id, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    handle(state, kasm_id, rest, request).await
}

async fn handle(
    State(state): State<AppState>,
    kasm_id: String,
    rest: String,
    request: Request,
) -> Response {
    let Ok(kasm_id) = Uuid::parse_str(&kasm_id) else {
        return refuse(StatusCode::NOT_FOUND, "No such session.");
    };
    let Some(path) = clean_path(&rest) else {
        return refuse(StatusCode::BAD_REQUEST, "Bad path.");
    };
    let user = match auth::user_for_headers(&state.db, request.headers()).await {
        Ok(user) => user,
        Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    let target = match target::lookup(&state.db, kasm_id).await {
        Ok(target) => target,
        Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    let target = match authorize(user.as_ref(), target) {
        Ok(target) => target,
        Err((status, message)) => return refuse(status, message),
    };
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if websocket::is_upgrade(request.headers()) {
        if !websocket::origin_allowed(request.headers(), state.web.public_origin.as_deref()) {
            tracing::warn!(%kasm_id, "refused a desktop websocket from another origin");
            return refuse(
                StatusCode::FORBIDDEN,
                "WebSocket from another origin refused.",
            );
        }
        let (mut parts, _body) = request.into_parts();
        let upgrade =
            match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &state).await
            {
                Ok(upgrade) => upgrade,
                Err(rejection) => return rejection.into_response(),
            };
        return websocket::bridge(upgrade, &parts.headers, target, format!("{path}{query}")).await;
    }
    http::forward(request, &target, kasm_id, &format!("{path}{query}")).await
}
