//! Starting, watching and joining sessions: `request_kasm`, `get_kasm_status`, `join_kasm`
//! (the calls that hand out sign-in links).
use super::call::Call;
use super::kasm_object::{kasm_of, kasms, Kasm, KasmView, StartingStatus, STARTING_STATUS};
use super::openapi::{NotFound, TooManySessions, Unavailable};
use super::params::{on, Environment, Flag, Id, Ignored, Required, Text};
use super::replies::{Date, HexId};
use super::{ApiError, Reply};
use crate::manager::{LaunchOptions, Manager};
use app::backend::{connect, sharing, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestKasm {
    /// The user acting, or the session's owner.
    user_id: Id,
    /// The workspace image.
    image_id: Id,
    /// Share the session from the start (share_id is then set).
    #[schema(value_type = Option<bool>)]
    enable_sharing: Option<Flag>,
    /// Environment variables for the container: string values; names that change how programs load or start, or that the session relies on (`LD_*`, `PATH`, `BERTH_*`...), are refused.
    environment: Option<Environment>,
    /// A browser workspace's first page (http or https URL).
    #[schema(value_type = Option<String>, max_length = 2048, pattern = "^([Hh][Tt][Tt][Pp][Ss]?://[^\\s\\u0000-\\u001f\\u007f-\\u009f]*)?$")]
    kasm_url: Option<Text>,
    /// The container's `LANG`, e.g. `de_DE.UTF-8`.
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9._@-]{0,64}$")]
    client_language: Option<Text>,
    /// The container's `TZ`, e.g. `Europe/Berlin`.
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9/_+-]{0,64}$")]
    client_timezone: Option<Text>,
    /// The user's persistent profile (where the image has one and the user's groups allow
    /// it): `Enabled` (the default), `Disabled` (a home for this session only) or `Reset`
    /// (start from an empty profile).
    #[schema(value_type = Option<String>, pattern = "^([Ee]nabled|[Dd]isabled|[Rr]eset)?$")]
    persistent_profile_mode: Option<Text>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Requested {
    kasm_id: HexId,
    /// `starting`.
    status: String,
    /// Null unless enable_sharing.
    share_id: Option<String>,
    user_id: HexId,
    username: String,
    /// A one-time token that kasm_url redeems; a newer one replaces it.
    session_token: String,
    /// A browser path that signs the user in and opens the session.
    kasm_url: String,
}

/// Start a session of an image for a user
#[utoipa::path(post, path = "/api/public/request_kasm", tag = "Sessions",
    request_body = inline(RequestKasm),
    responses((status = 200, description = "Success.", body = Requested),
        (status = 404, response = NotFound), (status = 429, response = TooManySessions),
        (status = 503, response = Unavailable)))]
pub async fn request_kasm(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<RequestKasm>,
) -> Reply<Requested> {
    let request = call.request;
    let (user_id, image_id) = (request.user_id.0, request.image_id.0);
    let enable_sharing = on(request.enable_sharing);
    let options = launch_options(request)?;
    let username = username_of(&state, user_id).await?;
    if enable_sharing {
        app::backend::policy::require_sharing(&state.db, user_id).await?;
    }
    let kasm_id = manager
        .request_session_with(user_id, image_id, options)
        .await?;
    let share_id = if enable_sharing {
        sharing::set_sharing(&state, user_id, kasm_id, true)
            .await?
            .share_id
    } else {
        None
    };
    let (session_token, kasm_url) = sign_in_link(&state, user_id, kasm_id, None).await?;
    Ok(Json(Requested {
        kasm_id: HexId(kasm_id),
        status: "starting".into(),
        share_id,
        user_id: HexId(user_id),
        username,
        session_token,
        kasm_url,
    }))
}

async fn username_of(state: &AppState, user_id: Uuid) -> Result<String, ApiError> {
    store::users::username_of(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))
}

/// request_kasm's `environment`, `kasm_url` (a browser workspace's first page),
/// `client_language` (LANG) and `client_timezone` (TZ), checked.
fn launch_options(request: RequestKasm) -> Result<LaunchOptions, ApiError> {
    let mut environment = request.environment.unwrap_or_default().0;
    // An empty string is as good as absent.
    let given = |text: Option<Text>| text.map(|Text(text)| text).filter(|t| !t.is_empty());
    let start_url = given(request.kasm_url);
    if let Some(url) = &start_url {
        let lower = url.to_ascii_lowercase();
        let web = lower.starts_with("https://") || lower.starts_with("http://");
        if !web || url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApiError::Invalid(
                "Invalid Parameters: kasm_url must be an http(s) URL".into(),
            ));
        }
    }
    for (field, value, variable, extra) in [
        ("client_language", request.client_language, "LANG", "._@-"),
        ("client_timezone", request.client_timezone, "TZ", "/_+-"),
    ] {
        if let Some(value) = given(value) {
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
    let profile_mode = match given(request.persistent_profile_mode) {
        None => berth_model::ProfileMode::default(),
        Some(mode) => berth_model::ProfileMode::parse(&mode).ok_or_else(|| {
            ApiError::Invalid(format!(
                "Invalid Parameters: persistent_profile_mode '{mode}' is not Enabled, Disabled or Reset"
            ))
        })?,
    };
    Ok(LaunchOptions {
        environment,
        start_url,
        profile_mode,
    })
}

/// A fresh `session_token` and the `kasm_url` that redeems it (earlier tokens stop working).
async fn sign_in_link(
    state: &AppState,
    user_id: Uuid,
    kasm_id: Uuid,
    share_id: Option<&str>,
) -> Result<(String, String), ApiError> {
    let token = connect::issue(state, user_id, kasm_id, share_id).await?;
    let url = connect::url(kasm_id, user_id, &token);
    Ok((token, url))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct KasmStatusRequest {
    /// The session's owner.
    user_id: Id,
    /// The session.
    kasm_id: Id,
    #[serde(default)]
    #[allow(dead_code)] // Documented and accepted, not used.
    skip_agent_check: Option<Ignored>,
}

/// get_kasm_status while the session is requested, provisioning or starting.
#[derive(Debug, Serialize, ToSchema)]
pub struct KasmStarting {
    kasm_id: HexId,
    status: StartingStatus,
    operational_status: StartingStatus,
    operational_message: String,
    /// 0-100.
    #[schema(minimum = 0, maximum = 100)]
    operational_progress: i32,
}

/// get_kasm_status once the session is past starting (running, paused, ...).
#[derive(Debug, Serialize, ToSchema)]
pub struct KasmRunning {
    kasm: Kasm,
    /// A browser path that signs the user in and opens the session (not for a read-only key).
    #[serde(skip_serializing_if = "Option::is_none")]
    kasm_url: Option<String>,
    /// A one-time token that kasm_url redeems; a newer one replaces it (not for a read-only
    /// key).
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<String>,
    current_time: Date,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum KasmStatus {
    Starting(KasmStarting),
    Running(Box<KasmRunning>),
}

/// How long a status call for a starting session waits for it to change before answering
/// "still starting": a client polling every few milliseconds then asks a few times a second
/// instead of a hundred, leaving the CPU to the container's start, and still learns of the
/// change the moment it happens.
const STARTING_HOLD: std::time::Duration = std::time::Duration::from_millis(500);

/// A session's status; the session object once it has started. While the session starts,
/// the answer waits up to half a second for that to change.
#[utoipa::path(post, path = "/api/public/get_kasm_status", tag = "Sessions",
    request_body = inline(KasmStatusRequest),
    responses((status = 200, description = "Success.", body = KasmStatus),
        (status = 404, response = NotFound)))]
pub async fn get_kasm_status(
    State(state): State<AppState>,
    call: Call<KasmStatusRequest>,
) -> Reply<KasmStatus> {
    let (user_id, kasm_id) = (call.request.user_id.0, call.request.kasm_id.0);
    let mut kasm = kasm_of(&state, user_id, kasm_id).await?;
    if let Some(seen) = starting(&kasm) {
        state
            .sessions
            .until_status_leaves(kasm_id, seen, STARTING_HOLD)
            .await;
        kasm = kasm_of(&state, user_id, kasm_id).await?;
    }
    let status = kasm.operational_status.0.clone();
    if STARTING_STATUS.contains(&status.as_str()) {
        return Ok(Json(KasmStatus::Starting(KasmStarting {
            kasm_id: HexId(kasm_id),
            status: StartingStatus(status.clone()),
            operational_status: StartingStatus(status),
            operational_message: kasm.operational_message,
            operational_progress: kasm.operational_progress,
        })));
    }
    // A read-only key reads the session; it never gets a way to sign in as its user.
    let link = if call.key.read_only {
        None
    } else {
        Some(sign_in_link(&state, user_id, kasm_id, None).await?)
    };
    let (session_token, kasm_url) = link.unzip();
    Ok(Json(KasmStatus::Running(Box::new(KasmRunning {
        kasm,
        kasm_url,
        session_token,
        current_time: Date::now(),
    }))))
}

/// The status of a session that has not started yet.
fn starting(kasm: &Kasm) -> Option<app::model::SessionStatus> {
    let status = kasm.operational_status.0.as_str();
    STARTING_STATUS
        .contains(&status)
        .then(|| status.parse().ok())
        .flatten()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinKasm {
    /// The viewer.
    user_id: Id,
    /// The session's share id (`shared_id` is accepted too).
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, required = true)]
    share_id: Option<Required>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    shared_id: Option<Required>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    kasm: KasmView,
    /// A browser path that signs the viewer in and opens the session.
    kasm_url: String,
    /// A one-time token that kasm_url redeems; a newer one replaces it.
    session_token: String,
    /// The viewer.
    username: String,
    /// The viewer.
    user_id: HexId,
}

/// Join a shared session as a view-only viewer
///
/// Recorded like a join through the share link.
#[utoipa::path(post, path = "/api/public/join_kasm", tag = "Sessions",
    request_body = inline(JoinKasm),
    responses((status = 200, description = "Success.", body = Joined),
        (status = 404, response = NotFound)))]
pub async fn join_kasm(State(state): State<AppState>, call: Call<JoinKasm>) -> Reply<Joined> {
    let user_id = call.request.user_id.0;
    // Kasm documents share_id; some clients send shared_id.
    let share_id = call
        .request
        .share_id
        .or(call.request.shared_id)
        .map(|Required(text)| text)
        .filter(|text| !text.is_empty())
        .ok_or(ApiError::Missing("share_id".into()))?;
    let username = username_of(&state, user_id).await?;
    let joined = match sharing::join(&state, user_id, &share_id).await {
        Ok(joined) => joined,
        Err(app::AppError::Forbidden) => {
            return Err(ApiError::NotFound(
                "No session is shared under that share_id".into(),
            ))
        }
        Err(error) => return Err(error.into()),
    };
    let kasm = kasms(&state, None, Some(joined.session_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound("Kasm not found".into()))?;
    let (session_token, kasm_url) =
        sign_in_link(&state, user_id, joined.session_id, Some(&share_id)).await?;
    Ok(Json(Joined {
        kasm: kasm.into(),
        kasm_url,
        session_token,
        username,
        user_id: HexId(user_id),
    }))
}
