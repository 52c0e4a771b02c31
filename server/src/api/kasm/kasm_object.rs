//! The session object ("kasm") the Developer API answers with, and the replies built around
//! it: what is sent and (through `ToSchema`) what the OpenAPI document says is sent.
use super::replies::{Date, HexId};
use super::ApiError;
use app::backend::AppState;
use serde::Serialize;
use std::collections::HashMap;
use store::policy::Policy;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// Every status a listed (not deleted) session can have: `SessionStatus` less `deleted`
/// (a unit test keeps the two in step).
pub const OPERATIONAL_STATUS: &[&str] = &[
    "requested",
    "provisioning",
    "starting",
    "running",
    "paused",
    "stopped",
    "deleting",
];

/// The statuses of a session that has not started yet.
pub const STARTING_STATUS: &[&str] = &["requested", "provisioning", "starting"];

/// A string schema that allows only `values`.
fn one_of(values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

/// A session's `operational_status` (one of [`OPERATIONAL_STATUS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OperationalStatus(pub String);

impl PartialSchema for OperationalStatus {
    fn schema() -> RefOr<Schema> {
        one_of(OPERATIONAL_STATUS)
    }
}

impl ToSchema for OperationalStatus {}

/// A status of a session that has not started ([`STARTING_STATUS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StartingStatus(pub String);

impl PartialSchema for StartingStatus {
    fn schema() -> RefOr<Schema> {
        one_of(STARTING_STATUS)
    }
}

impl ToSchema for StartingStatus {}

/// The session's workspace image.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KasmImage {
    pub image_id: HexId,
    /// The container image reference.
    pub name: String,
    pub friendly_name: String,
    /// Thumbnail URL.
    pub image_src: String,
}

/// Where the session's desktop stream is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VncPort {
    pub port: Option<i32>,
    /// `desktop/<kasm_id>`; clients append `/websockify` for the stream.
    pub path: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PortMap {
    pub vnc: VncPort,
}

/// The owner's effective group settings that concern the session (see store::policy).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientSettings {
    pub allow_kasm_sharing: bool,
    pub allow_kasm_clipboard_up: bool,
    pub allow_kasm_clipboard_down: bool,
    pub allow_kasm_clipboard_seamless: bool,
    pub allow_kasm_downloads: bool,
    pub allow_kasm_uploads: bool,
    pub allow_kasm_audio: bool,
    pub allow_kasm_microphone: bool,
    pub allow_kasm_webcam: bool,
    pub allow_kasm_printing: bool,
    pub allow_kasm_delete: bool,
    pub allow_kasm_pause: bool,
    pub allow_kasm_stop: bool,
    pub allow_persistent_profile: bool,
    /// Minutes; null for never.
    pub idle_disconnect: Option<i64>,
    /// Seconds; 0 for no limit.
    pub session_time_limit: i64,
    /// Seconds a keepalive extends the session by.
    pub keepalive_expiration: i64,
}

impl From<&Policy> for ClientSettings {
    fn from(policy: &Policy) -> Self {
        let on = |name| policy.allows(name);
        ClientSettings {
            allow_kasm_sharing: on("allow_kasm_sharing"),
            allow_kasm_clipboard_up: on("allow_kasm_clipboard_up"),
            allow_kasm_clipboard_down: on("allow_kasm_clipboard_down"),
            allow_kasm_clipboard_seamless: on("allow_kasm_clipboard_seamless"),
            allow_kasm_downloads: on("allow_kasm_downloads"),
            allow_kasm_uploads: on("allow_kasm_uploads"),
            allow_kasm_audio: on("allow_kasm_audio"),
            allow_kasm_microphone: on("allow_kasm_microphone"),
            allow_kasm_webcam: on("allow_kasm_webcam"),
            allow_kasm_printing: on("allow_kasm_printing"),
            allow_kasm_delete: on("allow_kasm_delete"),
            allow_kasm_pause: on("allow_kasm_pause"),
            allow_kasm_stop: on("allow_kasm_stop"),
            allow_persistent_profile: on("allow_persistent_profile"),
            idle_disconnect: Some(policy.number("idle_disconnect")).filter(|&m| m > 0),
            session_time_limit: policy.number("session_time_limit"),
            keepalive_expiration: policy.number("keepalive_expiration"),
        }
    }
}

/// A session ("kasm").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Kasm {
    pub kasm_id: HexId,
    /// The owner.
    pub user_id: HexId,
    pub image_id: HexId,
    pub image: KasmImage,
    pub operational_status: OperationalStatus,
    pub operational_message: String,
    /// 0-100.
    #[schema(minimum = 0, maximum = 100)]
    pub operational_progress: i32,
    pub container_id: Option<String>,
    /// The agent (Docker host) running it.
    pub server_id: Option<HexId>,
    pub hostname: String,
    pub port_map: PortMap,
    /// Set while the session is shared.
    pub share_id: Option<String>,
    pub cores: f64,
    /// Bytes.
    pub memory: i64,
    pub start_date: Option<Date>,
    pub keepalive_date: Option<Date>,
    pub expiration_date: Date,
    pub created_date: Date,
    pub client_settings: ClientSettings,
}

impl Kasm {
    fn new(row: store::sessions::ListedSession, client_settings: ClientSettings) -> Self {
        Kasm {
            kasm_id: HexId(row.session_id),
            user_id: HexId(row.user_id),
            image_id: HexId(row.image_id),
            image: KasmImage {
                image_id: HexId(row.image_id),
                name: row.image_name,
                friendly_name: row.image_friendly_name,
                image_src: row.image_src,
            },
            operational_status: OperationalStatus(row.operational_status),
            operational_message: row.operational_message,
            operational_progress: row.operational_progress,
            container_id: row.container_id,
            server_id: row.server_id.map(HexId),
            hostname: row.hostname,
            port_map: PortMap {
                vnc: VncPort {
                    port: row.port,
                    path: format!("desktop/{}", row.session_id),
                },
            },
            share_id: row.share_id,
            cores: row.cores,
            memory: row.memory,
            start_date: row.start_date.map(Date),
            keepalive_date: row.keepalive_date.map(Date),
            expiration_date: Date(row.expiration_date),
            created_date: Date(row.created_date),
            client_settings,
        }
    }
}

/// A shared session as a viewer sees it (join_kasm): a Kasm without where it runs
/// (`container_id`, `server_id`, `hostname`, `port_map`) or whose it is (`user_id`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KasmView {
    pub kasm_id: HexId,
    pub image_id: HexId,
    pub image: KasmImage,
    pub operational_status: OperationalStatus,
    pub operational_message: String,
    #[schema(minimum = 0, maximum = 100)]
    pub operational_progress: i32,
    pub share_id: Option<String>,
    pub cores: f64,
    pub memory: i64,
    pub start_date: Option<Date>,
    pub keepalive_date: Option<Date>,
    pub expiration_date: Date,
    pub created_date: Date,
    pub client_settings: ClientSettings,
    /// Always true.
    pub view_only: bool,
}

impl From<Kasm> for KasmView {
    fn from(kasm: Kasm) -> Self {
        KasmView {
            kasm_id: kasm.kasm_id,
            image_id: kasm.image_id,
            image: kasm.image,
            operational_status: kasm.operational_status,
            operational_message: kasm.operational_message,
            operational_progress: kasm.operational_progress,
            share_id: kasm.share_id,
            cores: kasm.cores,
            memory: kasm.memory,
            start_date: kasm.start_date,
            keepalive_date: kasm.keepalive_date,
            expiration_date: kasm.expiration_date,
            created_date: kasm.created_date,
            client_settings: kasm.client_settings,
            view_only: true,
        }
    }
}

/// Session objects (not deleted): all, one user's, or one.
pub async fn kasms(
    state: &AppState,
    user_id: Option<Uuid>,
    kasm_id: Option<Uuid>,
) -> Result<Vec<Kasm>, ApiError> {
    let rows = store::sessions::listed(&state.db, user_id, kasm_id).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut settings: HashMap<Uuid, ClientSettings> = HashMap::new();
    let mut kasms = Vec::with_capacity(rows.len());
    for row in rows {
        let owner = row.user_id;
        let client_settings = match settings.get(&owner) {
            Some(known) => known.clone(),
            None => {
                let policy = store::group_access::policy_of(&state.db, owner).await?;
                let resolved = ClientSettings::from(&policy);
                settings.insert(owner, resolved.clone());
                resolved
            }
        };
        kasms.push(Kasm::new(row, client_settings));
    }
    Ok(kasms)
}

/// One session of the user (not deleted).
pub async fn kasm_of(state: &AppState, user_id: Uuid, kasm_id: Uuid) -> Result<Kasm, ApiError> {
    kasms(state, Some(user_id), Some(kasm_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound("Kasm not found".into()))
}

#[cfg(test)]
mod tests {
    use app::model::SessionStatus;

    #[test]
    fn the_documented_statuses_are_the_session_states_of_listed_sessions() {
        let live: Vec<&str> = SessionStatus::ALL
            .into_iter()
            .filter(|status| *status != SessionStatus::Deleted)
            .map(SessionStatus::as_str)
            .collect();
        assert_eq!(super::OPERATIONAL_STATUS, live.as_slice());
    }
}
