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
    /// Session containers present on the host, by kasm_id, with their state.
    pub sessions: Vec<ContainerReport>,
    /// Image references present locally.
    pub images_present: Vec<String>,
    /// Image references the manager asked for that the agent could not get.
    pub images_missing: Vec<String>,
    pub version: String,
    pub interval_secs: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerReport {
    pub kasm_id: Uuid,
    pub container_id: String,
    pub running: bool,
    pub paused: bool,
}

/// The manager's answer to a check-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInReply {
    pub server_id: Uuid,
    /// Sessions the manager believes live on this agent; labelled containers not listed are
    /// orphans, removed by the agent.
    pub known_kasms: Vec<Uuid>,
    /// Images (enabled, not restricted elsewhere) this agent should hold.
    pub wanted_images: Vec<String>,
    /// This deployment's id: the agent's containers carry it, and it reconciles only those.
    pub deployment_id: String,
}

/// Manager → agent: create and start a session container, and wait until it streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateSession {
    pub kasm_id: Uuid,
    pub user_id: Uuid,
    pub image_id: Uuid,
    pub image: String,
    pub cores: f64,
    pub memory: i64,
    pub network_mode: String,
    pub secret: String,
    pub run_config: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedSession {
    pub container_id: String,
    /// Host and port where the session's port 6901 is published.
    pub host: String,
    pub port: u16,
}

/// Any agent API error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentError {
    pub error: String,
}
