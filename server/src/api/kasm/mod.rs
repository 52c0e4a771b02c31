//! The Kasm-compatible Developer API: `POST /api/public/<endpoint>` with a JSON body carrying
//! `api_key` and `api_key_secret`. IDs are rendered as 32 hex digits, dates as
//! `YYYY-MM-DD HH:MM:SS.ffffff` (UTC); every failure is non-2xx with `error_message`.
mod environment;
mod exec;
mod openapi;
mod openapi_schemas;
mod screenshot;
mod sessions;
mod users;

use crate::manager::Manager;
use app::backend::api_keys::{self, Key};
use app::backend::rate_limit;
use app::backend::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/public/{endpoint}", post(handle))
        .route("/api/openapi.json", axum::routing::get(openapi::serve))
}

/// The one error type of the API, rendered as Kasm does.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    Missing(&'static str),
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

/// The manager's refusals, answered as the app's.
impl From<berth_model::ControlError> for ApiError {
    fn from(error: berth_model::ControlError) -> Self {
        ApiError::App(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
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
        (status, Json(json!({ "error_message": message }))).into_response()
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// A successful answer: JSON, or (get_kasm_screenshot) a JPEG picture.
pub enum Reply {
    Json(Value),
    Jpeg(Vec<u8>),
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        Reply::Json(value)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(value) => Json(value).into_response(),
            Reply::Jpeg(bytes) => (
                [
                    (axum::http::header::CONTENT_TYPE, "image/jpeg"),
                    (axum::http::header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response(),
        }
    }
}

/// A UUID in Kasm's response form: 32 lowercase hex digits.
pub fn id(uuid: Uuid) -> String {
    uuid.simple().to_string()
}

/// A date in Kasm's form (UTC), which Python's datetime.fromisoformat parses.
pub fn date(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The request body, with helpers to read the call's own fields.
pub struct Body(pub Value);

impl Body {
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(&self.0, |value, key| value.get(key))
    }

    /// A UUID field (dashed or not), required.
    pub fn uuid(&self, path: &[&str], name: &'static str) -> Result<Uuid, ApiError> {
        let text = self
            .get(path)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::Missing(name))?;
        Uuid::parse_str(text)
            .map_err(|_| ApiError::Invalid(format!("Invalid Parameters: {name} is not a valid id")))
    }

    pub fn string(&self, path: &[&str], name: &'static str) -> Result<String, ApiError> {
        self.get(path)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ApiError::Missing(name))
    }
}

/// What an endpoint needs from its key.
pub struct Need {
    pub permissions: &'static [&'static str],
    pub modifies: bool,
}

/// Every endpoint served: `need()` answers only for these, and `GET /api/openapi.json`
/// documents exactly these (a unit test in openapi.rs holds the two together).
pub(crate) const ENDPOINTS: &[&str] = &[
    "request_kasm",
    "get_kasm_status",
    "get_kasms",
    "get_user_kasms",
    "destroy_kasm",
    "keepalive",
    "join_kasm",
    "exec_command_kasm",
    "get_kasm_screenshot",
    "pause_kasm",
    "resume_kasm",
    "stop_kasm",
    "get_images",
    "create_user",
    "get_user",
    "get_users",
    "update_user",
    "delete_user",
    "logout_user",
    "get_attributes",
    "update_user_attributes",
    "add_user_group",
    "remove_user_group",
];

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
        _ => return None,
    };
    Some(Need {
        permissions,
        modifies,
    })
}

/// The caller's key, if it and its secret hold. An address that keeps sending wrong keys is
/// refused before any is looked at; each Argon2 verification reserves one of its failures
/// first (given back when the secret was right), so that parallel guesses stay within the
/// limit; unknown keys cost no Argon2 and count as failures.
async fn verify_key(
    state: &AppState,
    api_key: &str,
    secret: &str,
    address: &str,
) -> Result<Key, ApiError> {
    let limit = &rate_limit::API_KEY_FAILURES;
    let prefix = state.web.redis_prefix.as_str();
    let mut redis = state.redis.clone();
    rate_limit::check(&mut redis, prefix, limit, address).await?;
    let reserved = std::sync::atomic::AtomicBool::new(false);
    let verified = api_keys::verify(&state.db, api_key, secret, || async {
        let mut redis = state.redis.clone();
        rate_limit::hit(&mut redis, prefix, limit, address).await?;
        reserved.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    })
    .await?;
    let reserved = reserved.load(std::sync::atomic::Ordering::SeqCst);
    match verified {
        Ok(key) => {
            // Into the request's span (api/request_log.rs): who asked.
            tracing::Span::current().record("api_key", tracing::field::display(key.api_key_id));
            if reserved {
                rate_limit::forgive(&mut redis, prefix, limit, address).await?;
            }
            Ok(key)
        }
        Err(_) => {
            if !reserved {
                rate_limit::record(&mut redis, prefix, limit, address).await?;
            }
            Err(ApiError::Unauthorized)
        }
    }
}

/// Where an endpoint names the user it acts on (changes, signs out, signs in as, or acts in
/// the sessions of).
fn target_user_path(endpoint: &str) -> Option<&'static [&'static str]> {
    match endpoint {
        "update_user" | "delete_user" | "logout_user" | "add_user_group" | "remove_user_group" => {
            Some(&["target_user", "user_id"])
        }
        "update_user_attributes" => Some(&["target_user_attributes", "user_id"]),
        "request_kasm"
        | "get_kasm_status"
        | "join_kasm"
        | "exec_command_kasm"
        | "get_kasm_screenshot"
        | "destroy_kasm"
        | "pause_kasm"
        | "resume_kasm"
        | "stop_kasm" => Some(&["user_id"]),
        _ => None,
    }
}

/// Berth's own permission (Kasm has none as narrow) to run `exec_command_kasm` as root.
pub const EXEC_AS_ROOT: &str = "Sessions Exec Root";

/// The permissions that let a key act on an administrator.
pub const ADMIN_TARGET_PERMISSIONS: [&str; 2] = ["Users Modify Admin", "Global Admin"];

/// A key acts on an administrator (changes, deletes or signs one out, mints their sign-in
/// links, runs commands in or controls their sessions) only when granted "Users Modify Admin"
/// (or "Global Admin"): "Users Modify" or "User" alone must not reach an administrator.
async fn may_act_on_target(
    state: &AppState,
    endpoint: &str,
    body: &Body,
    key: &Key,
) -> Result<(), ApiError> {
    if ADMIN_TARGET_PERMISSIONS.iter().any(|p| key.has(p)) {
        return Ok(());
    }
    let Some(path) = target_user_path(endpoint) else {
        return Ok(());
    };
    // A missing or malformed user id is the endpoint's own error to report.
    let Some(user_id) = body
        .get(path)
        .and_then(Value::as_str)
        .and_then(|text| Uuid::parse_str(text).ok())
    else {
        return Ok(());
    };
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&state.db)
        .await
        .map_err(|error| ApiError::App(app::backend::db_error(error)))?;
    if role.as_deref() == Some("admin") {
        return Err(ApiError::Denied(
            "This key may not act on an administrator: that needs the permission \"Users Modify Admin\".".into(),
        ));
    }
    Ok(())
}

/// The largest request body the Developer API reads.
const MAX_BODY: usize = 256 * 1024;

/// Where in a JSON value a string holds a NUL character (`api_key`, `environment.NAME`, ...).
fn nul_at(value: &Value, path: &str) -> Option<String> {
    let here = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(if path.is_empty() {
            "the body".to_owned()
        } else {
            path.to_owned()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_at(item, &here(&index.to_string()))),
        Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            if key.contains('\0') {
                Some(here(&key.replace('\0', "\\0")))
            } else {
                nul_at(field, &here(key))
            }
        }),
        _ => None,
    }
}

async fn handle(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    Path(endpoint): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let address = app::backend::rate_limit::client_address(
        &parts,
        state.web.client_address_header.as_deref(),
    );
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::TooLarge(format!(
                "The request body is larger than {} KiB.",
                MAX_BODY / 1024
            ))
            .into_response()
        }
    };
    let outcome = run(&state, &manager, &endpoint, &body, &address).await;
    let (outcome_label, key_id) = match &outcome {
        Ok((_, key)) => ("ok", Some(key.api_key_id)),
        Err((ApiError::Unauthorized | ApiError::Denied(_), key)) => {
            ("denied", key.as_ref().map(|k| k.api_key_id))
        }
        Err((_, key)) => ("error", key.as_ref().map(|k| k.api_key_id)),
    };
    let action = format!("api:{endpoint}");
    let entry = store::audit::Entry {
        actor: store::audit::Actor::ApiKey(key_id),
        action: &action,
        target: "api",
        outcome: outcome_label,
        details: serde_json::json!({}),
    };
    store::audit::record(&state.db, entry).await;
    match outcome {
        Ok((reply, _)) => reply.into_response(),
        Err((error, _)) => error.into_response(),
    }
}

async fn run(
    state: &AppState,
    manager: &Arc<Manager>,
    endpoint: &str,
    raw: &[u8],
    address: &str,
) -> Result<(Reply, Key), (ApiError, Option<Key>)> {
    let value: Value = serde_json::from_slice(raw).map_err(|error| {
        (
            ApiError::Invalid(format!("Invalid JSON body: {error}")),
            None,
        )
    })?;
    if let Some(path) = nul_at(&value, "") {
        return Err((
            ApiError::Invalid(format!(
                "The text at {path} contains a NUL character, which no field accepts."
            )),
            None,
        ));
    }
    let body = Body(value);
    let api_key = body
        .string(&["api_key"], "api_key")
        .map_err(|e| (e, None))?;
    let secret = body
        .string(&["api_key_secret"], "api_key_secret")
        .map_err(|e| (e, None))?;
    let key = verify_key(state, &api_key, &secret, address)
        .await
        .map_err(|e| (e, None))?;
    let need = need(endpoint).ok_or_else(|| {
        (
            ApiError::NotFound(format!("Unknown endpoint {endpoint}")),
            Some(key.clone()),
        )
    })?;
    if need.permissions.iter().any(|p| !key.has(p)) || (need.modifies && key.read_only) {
        return Err((ApiError::Unauthorized, Some(key)));
    }
    if let Err(error) = may_act_on_target(state, endpoint, &body, &key).await {
        return Err((error, Some(key)));
    }
    if endpoint == "exec_command_kasm" && exec::runs_as_root(&body) && !key.has(EXEC_AS_ROOT) {
        return Err((
            ApiError::Denied(format!(
                "Running commands as root needs the permission \"{EXEC_AS_ROOT}\"."
            )),
            Some(key),
        ));
    }
    let result: Result<Reply, ApiError> = match endpoint {
        "get_users"
        | "get_user"
        | "create_user"
        | "delete_user"
        | "update_user"
        | "logout_user"
        | "get_attributes"
        | "update_user_attributes"
        | "add_user_group"
        | "remove_user_group" => users::dispatch(state, endpoint, &body)
            .await
            .map(Reply::from),
        "exec_command_kasm" => exec::exec_command_kasm(state, manager, &body)
            .await
            .map(Reply::from),
        "get_kasm_screenshot" => screenshot::get_kasm_screenshot(state, manager, &body).await,
        _ => sessions::dispatch(state, manager, endpoint, &body, !key.read_only)
            .await
            .map(Reply::from),
    };
    result
        .map(|reply| (reply, key.clone()))
        .map_err(|error| (error, Some(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_found_wherever_they_are() {
        assert_eq!(
            nul_at(&json!({"api_key": "a\u{0}b"}), ""),
            Some("api_key".into())
        );
        assert_eq!(
            nul_at(&json!({"environment": {"X": ["ok", "x\u{0}"]}}), ""),
            Some("environment.X.1".into())
        );
        assert_eq!(nul_at(&json!({"a": "fine", "n": 1}), ""), None);
    }
}
