//! What agents and the manager say to each other over HTTP (JSON).
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Sent by an agent every few seconds to POST /api/agent/checkin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckIn {
    /// Unique per agent (defaults to the host name).
    pub name: String,
    pub hostname: String,
    /// Where the manager reaches this agent's API.
    pub agent_url: String,
    /// The address on which session ports are published.
    pub address: String,
    pub cores: f64,
    pub memory: i64,
    pub gpus: i32,
    pub disk_free: i64,
    /// Session containers present on the host, by session_id, with their state.
    pub sessions: Vec<ContainerReport>,
    /// Image references present locally.
    pub images_present: Vec<String>,
    /// Image references the manager asked for that the agent could not get.
    pub images_missing: Vec<String>,
    pub version: String,
    pub interval_secs: u32,
    /// Random per agent process: a new one tells the manager the agent restarted, so its
    /// first reports are not taken as proof that a container is gone.
    #[serde(default)]
    pub instance_id: Option<Uuid>,
    /// What the manager must present when it calls this agent's API: random per agent
    /// process, so it opens this agent and no other (the check-in's credential vouches that
    /// it comes from this agent). Empty from agents older than per-agent credentials.
    #[serde(default)]
    pub api_secret: String,
    /// The host folders this agent allows volume mappings under (BERTH_VOLUME_ROOTS): the
    /// manager refuses mappings outside every agent's when they are saved.
    #[serde(default)]
    pub volume_roots: Vec<String>,
}

/// The shortest `api_secret` a check-in may carry.
pub const MIN_API_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerReport {
    pub session_id: Uuid,
    pub container_id: String,
    pub running: bool,
    pub paused: bool,
    /// The container's owner label, "<agent>@<deployment_id>": the manager counts only its
    /// own deployment's (the agent reports every labelled container, from its very first
    /// check-in, before it knows its deployment).
    #[serde(default)]
    pub owner: String,
    /// The host port its stream port is published on, while it runs.
    #[serde(default)]
    pub port: Option<u16>,
    /// How it ended, once exited.
    #[serde(default)]
    pub exit_code: Option<i64>,
}

/// The manager's answer to a check-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInReply {
    pub server_id: Uuid,
    /// Sessions the manager believes live on this agent; labelled containers not listed are
    /// orphans, removed by the agent.
    pub known_sessions: Vec<Uuid>,
    /// Images (enabled, not restricted elsewhere) this agent should hold.
    pub wanted_images: Vec<String>,
    /// This deployment's id: the agent's containers carry it, and it reconciles only those.
    pub deployment_id: String,
}

/// Manager → agent: create and start a session container, and wait until it streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateSession {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub image: String,
    pub cores: f64,
    pub memory: i64,
    pub network_mode: String,
    pub secret: String,
    pub run_config: serde_json::Value,
    /// The first page of a browser workspace (request_kasm's `kasm_url`), as BERTH_START_URL.
    #[serde(default)]
    pub start_url: Option<String>,
    /// The persistent profile and volume mappings (none from older managers).
    #[serde(default)]
    pub storage: SessionStorage,
    /// A staged session (nobody's yet): the agent prepares its hand-over once it streams.
    #[serde(default)]
    pub staged: bool,
}

/// Manager → agent: the new secret of a staged session handed over to a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplaceSecret {
    pub secret: String,
}

/// A session's persistent profile and volume mappings, as the manager asks for them; the
/// agent checks them against its own configuration (`agent::storage`) before it mounts
/// anything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SessionStorage {
    /// The profile folder, relative to the agent's profile root: the session's home.
    #[serde(default)]
    pub profile: Option<String>,
    /// Empty the profile before the session starts (persistent_profile_mode `reset`).
    #[serde(default)]
    pub reset_profile: bool,
    #[serde(default)]
    pub volumes: Vec<store::mounts::VolumeMapping>,
    /// What the agent resolved them to on its host (never sent: only the agent fills it in).
    #[serde(skip)]
    pub binds: Vec<Bind>,
}

/// A host folder, resolved by the agent, bound into a session's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: std::path::PathBuf,
    pub target: String,
    pub read_only: bool,
}

impl CreateSession {
    /// A valid request for `image` on `network_mode` with fresh ids, one core, 1 GiB and a
    /// random secret: the starting point of tests and benchmarks, which change what they try.
    #[doc(hidden)]
    pub fn example(image: &str, network_mode: &str) -> CreateSession {
        CreateSession {
            session_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            image_id: Uuid::new_v4(),
            image: image.to_owned(),
            cores: 1.0,
            memory: 1 << 30,
            network_mode: network_mode.to_owned(),
            secret: Uuid::new_v4().simple().to_string(),
            run_config: serde_json::json!({}),
            start_url: None,
            storage: SessionStorage::default(),
            staged: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedSession {
    pub container_id: String,
    /// Host and port where the session's RFB port is published (the agent host's loopback).
    pub host: String,
    pub port: u16,
}

/// Manager → agent: start a stopped session's container again (its secret, to wait until it
/// streams).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartSession {
    pub secret: String,
}

/// Manager → agent: take over a launch that was under way when Berth stopped
/// (POST /v1/sessions/{session_id}/adopt). The agent answers a [`CreatedSession`] once the
/// container streams (waiting up to `wait_secs`), 404 when it has no container for it, 409
/// when the container is not running.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdoptSession {
    pub secret: String,
    pub wait_secs: u64,
}

/// Manager → agent: run `cmd` through `sh -c` in a running session's container
/// (POST /v1/sessions/{session_id}/exec).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecRequest {
    pub cmd: String,
    /// The working directory; the image's (the user's home) when absent.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Added to the container's environment (DISPLAY defaults to the session's display).
    #[serde(default)]
    pub environment: Vec<(String, String)>,
    /// `user`, `uid`, `user:group` or `uid:gid`; the image's user when absent.
    #[serde(default)]
    pub user: Option<String>,
    /// How long the command may run before the agent gives up on it (and it is killed).
    pub timeout_secs: u64,
    /// The most bytes kept of each of stdout and stderr; the rest is dropped.
    pub max_output: usize,
}

/// What a command run by [`ExecRequest`] did. `exit_code` is None when it timed out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecOutput {
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub timed_out: bool,
}

/// The `Upgrade` protocol of an agent's tunnel to a session's RFB port
/// (`GET /v1/sessions/{session_id}/stream?container=<id>`): raw RFB bytes after the 101.
pub const TUNNEL_PROTOCOL: &str = "berth-rfb";

/// Any agent API error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentError {
    pub error: String,
    /// The request field that was refused, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Manager → agent: delete these profile folders (relative to the agent's profile root).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteProfiles {
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedProfiles {
    pub deleted: Vec<String>,
}
