//! The Kasm-compatible Developer API: `POST /api/public/<endpoint>` with a JSON body carrying
//! `api_key` and `api_key_secret`. IDs are rendered as 32 hex digits, dates as
//! `YYYY-MM-DD HH:MM:SS.ffffff` (UTC); every failure is non-2xx with `error_message`.
//!
//! One route per endpoint (the [`developer_api!`] list below, which also lists the OpenAPI
//! operations); each handler takes a [`call::Call`] of its typed request (the key verified and
//! allowed, the request read) and answers a typed reply (replies.rs, kasm_object.rs); every call is
//! audited by one layer (audit.rs).
mod attributes;
mod audit;
mod call;
mod control;
mod environment;
mod exec;
mod groups;
mod kasm_object;
mod openapi;
mod params;
mod replies;
mod screenshot;
mod sessions;
mod users;

use app::backend::AppState;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, post_service};
use axum::{middleware, Json, Router};

/// Declares every endpoint once: its route, its name in [`ENDPOINTS`], and its operation in
/// the OpenAPI document ([`Operations`]).
macro_rules! developer_api {
    ($($module:ident::$name:ident),* $(,)?) => {
        /// Every endpoint served: `need()` answers only for these, and `GET /api/openapi.json`
        /// documents exactly these (a unit test in openapi.rs holds the three together).
        pub(crate) const ENDPOINTS: &[&str] = &[$(stringify!($name)),*];

        fn endpoint_routes() -> Router<AppState> {
            Router::new()$(.route(concat!("/api/public/", stringify!($name)), post($module::$name)))*
        }

        /// The operations of the OpenAPI document, from the handlers' `#[utoipa::path]`.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($module::$name),*))]
        struct Operations;
    };
}

developer_api!(
    sessions::request_kasm,
    sessions::get_kasm_status,
    control::get_kasms,
    control::get_user_kasms,
    control::destroy_kasm,
    control::keepalive,
    sessions::join_kasm,
    exec::exec_command_kasm,
    screenshot::get_kasm_screenshot,
    control::pause_kasm,
    control::resume_kasm,
    control::stop_kasm,
    control::get_images,
    users::create_user,
    users::get_user,
    users::get_users,
    users::update_user,
    users::delete_user,
    users::logout_user,
    attributes::get_attributes,
    attributes::update_user_attributes,
    attributes::add_user_group,
    attributes::remove_user_group,
    groups::get_groups,
    groups::create_group,
    groups::update_group,
    groups::delete_group,
);

/// `/api/public/{endpoint}` is one route of the app (its logs and limits name it so), served
/// by the router of the endpoints, where each has its own route.
pub fn router(state: AppState) -> Router<AppState> {
    let endpoints = endpoint_routes()
        // Any other name: the key is still verified (and the call audited) before the 404.
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(
            audit::AuditState {
                app: state.clone(),
                reads: Default::default(),
            },
            audit::layer,
        ))
        .with_state(state);
    Router::new()
        .route("/api/public/{endpoint}", post_service(endpoints))
        .route("/api/openapi.json", get(openapi::serve))
}

async fn unknown(uri: Uri, _call: call::Call<serde::de::IgnoredAny>) -> ApiError {
    // `Call` already refuses names `need()` does not know; this is for completeness.
    let endpoint = uri.path().rsplit('/').next().unwrap_or_default();
    ApiError::NotFound(format!("Unknown endpoint {endpoint}"))
}

/// The one error type of the API, rendered as Kasm does.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    /// A required parameter is absent (or null, or not even of its type).
    Missing(String),
    Invalid(String),
    NotFound(String),
    /// The target is in the wrong state for the call (e.g. a session not running): 409.
    Conflict(String),
    /// The request body is too large: 413.
    TooLarge(String),
    /// The key may call the endpoint, but not for this target: 403 with the reason.
    Denied(String),
    App(app::AppError),
}

impl From<app::AppError> for ApiError {
    fn from(error: app::AppError) -> Self {
        ApiError::App(error)
    }
}

impl From<berth_model::ControlError> for ApiError {
    fn from(error: berth_model::ControlError) -> Self {
        ApiError::App(error.into())
    }
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        ApiError::App(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let denied = matches!(self, ApiError::Unauthorized | ApiError::Denied(_));
        let (status, error_message) = match self {
            ApiError::Unauthorized => (StatusCode::FORBIDDEN, "Unauthorized".to_owned()),
            ApiError::Missing(field) => (
                StatusCode::BAD_REQUEST,
                format!("Missing Parameters: {field} is missing"),
            ),
            ApiError::Invalid(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, message),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, message),
            ApiError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, message),
            ApiError::Denied(message) => (StatusCode::FORBIDDEN, message),
            ApiError::App(error) => (error.status(), error.to_string()),
        };
        let mut response = (status, Json(replies::Error { error_message })).into_response();
        if denied {
            response.extensions_mut().insert(audit::Denied);
        }
        response
    }
}

/// A JSON answer or the error.
pub type Reply<T> = Result<Json<T>, ApiError>;

/// What an endpoint needs from its key.
pub struct Need {
    pub permissions: &'static [&'static str],
    pub modifies: bool,
}

fn need(endpoint: &str) -> Option<Need> {
    if !ENDPOINTS.contains(&endpoint) {
        return None;
    }
    let (permissions, modifies): (&'static [&'static str], bool) = match endpoint {
        "request_kasm" => (&["User", "Users Auth Session"], true),
        "get_kasm_status" => (&["User", "Users Auth Session"], false),
        "join_kasm" => (&["User", "Users Auth Session"], true),
        "exec_command_kasm" => (&["Sessions Modify"], true),
        "get_kasm_screenshot" => (&["Sessions View"], false),
        "get_kasms" | "get_user_kasms" => (&["Sessions View"], false),
        "destroy_kasm" | "keepalive" | "pause_kasm" | "resume_kasm" | "stop_kasm" => {
            (&["Sessions Modify"], true)
        }
        "get_images" => (&["Images View"], false),
        "get_user" | "get_users" => (&["Users View"], false),
        "create_user" => (&["Users Create"], true),
        "delete_user" => (&["Users Delete"], true),
        "update_user" | "update_user_attributes" => (&["Users Modify"], true),
        "logout_user" => (&["Users Auth Session"], true),
        "get_attributes" => (&["Users View"], false),
        "add_user_group" | "remove_user_group" => (&["Groups Modify"], true),
        "get_groups" => (&["Groups View"], false),
        "create_group" => (&["Groups Create"], true),
        "update_group" => (&["Groups Modify"], true),
        "delete_group" => (&["Groups Delete"], true),
        _ => return None,
    };
    Some(Need {
        permissions,
        modifies,
    })
}

/// Berth's own permission (Kasm has none as narrow) to run `exec_command_kasm` as root.
pub const EXEC_AS_ROOT: &str = "Sessions Exec Root";

/// The permissions that let a key act on an administrator.
pub const ADMIN_TARGET_PERMISSIONS: [&str; 2] = ["Users Modify Admin", "Global Admin"];
