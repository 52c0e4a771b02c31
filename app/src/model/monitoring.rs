//! What Admin → Metrics shows: the deployment now (sessions by state, agents and their free
//! capacity) and the last hour's launches in five-minute windows.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsOverview {
    /// Sessions not deleted, by state (e.g. ("running", 12)), in the states' order.
    pub sessions: Vec<(String, i64)>,
    pub agents: Vec<AgentFigures>,
    /// Oldest first, twelve windows.
    pub launches: Vec<LaunchWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentFigures {
    pub hostname: String,
    pub online: bool,
    pub free_cores: f64,
    pub free_memory: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchWindow {
    /// Minutes from the window's start to now.
    pub minutes_ago: i64,
    pub launches: i64,
    /// Launches that ended before their desktop streamed.
    pub not_started: i64,
    /// Median request → streaming desktop of those that streamed, in seconds.
    pub median_seconds: Option<f64>,
}

impl MetricsOverview {
    pub fn count(&self, status: &str) -> i64 {
        self.sessions
            .iter()
            .filter(|(state, _)| state == status)
            .map(|(_, count)| count)
            .sum()
    }

    pub fn launches_last_hour(&self) -> i64 {
        self.launches.iter().map(|window| window.launches).sum()
    }

    pub fn not_started_last_hour(&self) -> i64 {
        self.launches.iter().map(|window| window.not_started).sum()
    }
}
