//! The proxy role: `/desktop/{session_id}/websockify` is that session's desktop stream, a
//! WebSocket carrying RFB, for its owner (and, read-only, for viewers of a shared session).
//! Berth is the WebSocket endpoint: it authenticates with the session's VNC server itself
//! (VNC authentication with the session's secret, through the session's agent when it is on
//! another host) and greets the browser as a server that needs no password, since the
//! browser's cookie was checked. No page, script or header of a container is ever served (the
//! web client is Berth's own), and the target is always the container the manager recorded
//! for the session, never anything from the request.
pub mod greeting;
pub mod idle;
mod relay;
pub mod servercut;
pub(crate) mod target;
pub mod viewonly;

use crate::access::Streams;
use crate::manager::Manager;
use crate::share::ShareHub;
use app::backend::sharing::{self, Access};
use app::backend::{auth, AppState};
use app::model::CurrentUser;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Extension;
use axum::Router;
use std::sync::Arc;
pub use target::{authorize, clean_path, Target};
use uuid::Uuid;

/// The one path under a session's prefix: its stream's WebSocket.
const STREAM_PATH: &str = "/websockify";
/// Connecting to the session's VNC server and authenticating, at most.
const VNC_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/desktop/{session_id}", any(root))
        .route("/desktop/{session_id}/", any(root))
        .route("/desktop/{session_id}/{*rest}", any(forward))
}

pub(crate) fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

/// What the proxy works with besides the app's state.
#[derive(Clone)]
struct Roles {
    hub: Extension<Arc<ShareHub>>,
    manager: Extension<Arc<Manager>>,
    streams: Extension<Arc<Streams>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Roles {
    type Rejection = <Extension<Arc<Manager>> as FromRequestParts<S>>::Rejection;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Roles {
            hub: Extension::from_request_parts(parts, state).await?,
            manager: Extension::from_request_parts(parts, state).await?,
            streams: Extension::from_request_parts(parts, state).await?,
        })
    }
}

async fn root(
    state: State<AppState>,
    roles: Roles,
    Path(session_id): Path<String>,
    request: Request,
) -> Response {
    handle(state, roles, session_id, String::new(), request).await
}

async fn forward(
    state: State<AppState>,
    roles: Roles,
    Path((session_id, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    handle(state, roles, session_id, rest, request).await
}

async fn handle(
    State(state): State<AppState>,
    roles: Roles,
    session_id: String,
    rest: String,
    request: Request,
) -> Response {
    let Ok(session_id) = Uuid::parse_str(&session_id) else {
        return refuse(StatusCode::NOT_FOUND, "No such session.");
    };
    let Some(path) = clean_path(&rest) else {
        return refuse(StatusCode::BAD_REQUEST, "Bad path.");
    };
    let allowed = match admit(
        &state,
        session_id,
        &path,
        request.method(),
        request.headers(),
    )
    .await
    {
        Ok(allowed) => allowed,
        Err(refusal) => return refusal,
    };
    // Authenticated before the browser is upgraded, so a desktop that does not answer
    // (or refuses) is a clean 502.
    let upstream = match connect(&roles.manager, session_id, &allowed.target).await {
        Ok(upstream) => upstream,
        Err(refusal) => return refusal,
    };
    let (mut parts, _body) = request.into_parts();
    let upgrade =
        match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
    let token = app::backend::cookies::read(&parts.headers, app::backend::cookies::SESSION_COOKIE)
        .unwrap_or_default();
    relay_when_upgraded(upgrade, roles, session_id, allowed, upstream, token)
}

/// Who may open this session's stream, and as what.
struct Allowed {
    user: CurrentUser,
    target: Target,
    access: Access,
    clipboard: Clipboard,
    /// When the owner's `idle_disconnect` is set: the stream's watch of their idleness.
    idle: Option<idle::IdleWatch>,
    /// What the owner's `idle_disconnect_action` does besides closing the streams.
    on_idle: Option<berth_model::SessionChange>,
}

/// Which ways the clipboard may cross the stream: the session owner's group settings
/// (`allow_kasm_clipboard_up` / `_down`), whoever watches.
#[derive(Debug, Clone, Copy)]
pub struct Clipboard {
    pub up: bool,
    pub down: bool,
}

/// Checks everything about the request before any connection to the desktop: the cookie's
/// user may reach the session (as its owner or a viewer), the request is the stream's
/// WebSocket (nothing else of a container is served), from Berth's own origin.
async fn admit(
    state: &AppState,
    session_id: Uuid,
    path: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Allowed, Response> {
    let unavailable =
        |error: &dyn std::fmt::Display| refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
    let user = auth::user_for_headers(&state.db, headers)
        .await
        .map_err(|error| unavailable(&error))?;
    let target = target::lookup(&state.db, session_id)
        .await
        .map_err(|error| unavailable(&error))?;
    let access = match &user {
        Some(user) => sharing::access(&state.db, user.user_id, session_id)
            .await
            .map_err(|error| unavailable(&error))?,
        None => None,
    };
    let (target, access, owner) = authorize(user.as_ref(), target, access)
        .map_err(|(status, message)| refuse(status, message))?;
    // Viewers only read: the (filtered) stream.
    if access != Access::Owner && !matches!(*method, Method::GET | Method::HEAD) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "Viewers cannot change the session.",
        ));
    }
    // Berth serves the desktop's web client itself (/novnc/, /viewer.html): nothing a
    // container answers is ever handed to a browser, only the stream's bytes.
    if !crate::websocket::is_upgrade(headers) || path != STREAM_PATH {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "Only the desktop's stream is reached here (a WebSocket at /desktop/<session_id>/websockify); Berth serves the desktop's page itself.",
        ));
    }
    if !crate::websocket::origin_allowed(headers, state.web.public_origin.as_deref()) {
        tracing::warn!(%session_id, "refused a desktop websocket from another origin");
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "WebSocket from another origin refused.",
        ));
    }
    let user = user.ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "Please sign in."))?;
    let policy = store::group_access::policy_of(&state.db, owner)
        .await
        .map_err(|error| unavailable(&error))?;
    let clipboard = Clipboard {
        up: policy.allows(store::policy::ALLOW_KASM_CLIPBOARD_UP),
        down: policy.allows(store::policy::ALLOW_KASM_CLIPBOARD_DOWN),
    };
    let (redis, prefix) = (state.redis.clone(), state.web.redis_prefix.clone());
    let idle = match (access, policy.idle_limit()) {
        (Access::Owner, Some(limit)) => {
            Some(idle::IdleWatch::new(limit, redis, prefix, session_id))
        }
        (Access::Viewer { .. }, Some(limit)) => {
            Some(idle::IdleWatch::for_viewer(limit, redis, prefix, session_id).await)
        }
        (_, None) => None,
    };
    Ok(Allowed {
        user,
        target,
        access,
        clipboard,
        idle,
        on_idle: policy.idle_action(),
    })
}

/// Opens the session's desktop (only its own container, not whatever now has its recorded
/// port) and authenticates with its VNC server.
async fn connect(
    manager: &Manager,
    session_id: Uuid,
    target: &Target,
) -> Result<crate::rfb::Authenticated, Response> {
    let (Some(container), Some(port)) = (target.container_id.as_deref(), target.port) else {
        return Err(refuse(StatusCode::CONFLICT, "The session is not running."));
    };
    let stream = manager
        .open_stream(session_id, container, &target.host, port)
        .await
        .map_err(|error| {
            let status = match error {
                berth_model::ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CONFLICT,
            };
            refuse(status, &error.to_string())
        })?;
    let authenticated = tokio::time::timeout(
        VNC_HANDSHAKE,
        crate::rfb::authenticate(stream, &target.secret),
    )
    .await
    .unwrap_or(Err(crate::rfb::RfbError::TimedOut {
        what: "VNC handshake",
        after: VNC_HANDSHAKE,
    }));
    authenticated.map_err(|error| {
        tracing::warn!(%session_id, %error, "the session's VNC server did not accept Berth");
        refuse(
            StatusCode::BAD_GATEWAY,
            "The session's desktop is not answering.",
        )
    })
}

/// Pauses or stops a session whose owner idled out, as their `idle_disconnect_action` says.
/// Each of the owner's streams idles out at about the same time: the first change wins, the
/// others find the session changed already (a conflict, not worth a warning).
async fn act_on_idle(manager: &Manager, session_id: Uuid, change: berth_model::SessionChange) {
    match manager.change_session(session_id, change).await {
        Ok(()) => tracing::info!(%session_id, ?change, "idle owner: session changed"),
        Err(error) => tracing::debug!(%session_id, ?change, %error, "idle owner: no change"),
    }
}

/// Upgrades the browser and relays until either side ends; a viewer is watched (control,
/// revocation) for as long as the stream lasts.
fn relay_when_upgraded(
    upgrade: axum::extract::ws::WebSocketUpgrade,
    roles: Roles,
    session_id: Uuid,
    allowed: Allowed,
    upstream: crate::rfb::Authenticated,
    token: String,
) -> Response {
    let Roles {
        hub: Extension(hub),
        streams: Extension(streams),
        manager: Extension(manager),
    } = roles;
    let Allowed {
        user,
        access,
        clipboard,
        idle,
        on_idle,
        ..
    } = allowed;
    let registration = streams.register(user.user_id, session_id, token);
    let viewer = match access {
        Access::Viewer { control } => Some(hub.watch(session_id, user.user_id, control)),
        Access::Owner => None,
    };
    upgrade
        .protocols(["binary"])
        .max_message_size(relay::MAX_BROWSER_MESSAGE)
        .max_frame_size(relay::MAX_BROWSER_MESSAGE)
        .on_upgrade(move |socket| async move {
            let id = viewer.as_ref().map(|watcher| watcher.id);
            let ended = relay::serve(socket, upstream, viewer, registration, clipboard, idle).await;
            if let Some(id) = id {
                hub.unwatch(session_id, id);
            }
            if let (relay::Ended::IdledOut, Access::Owner, Some(change)) = (ended, access, on_idle)
            {
                act_on_idle(&manager, session_id, change).await;
            }
        })
}
