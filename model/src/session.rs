//! A session's status and the changes a user (or the Developer API) asks of a live one.
use serde::{Deserialize, Serialize};

/// Where a session (a "kasm") is in its life. The manager alone moves a session between
/// these (server/src/manager/state.rs); the UI and the Developer API show them by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Asked for, not yet placed.
    Requested,
    /// Placed on an agent; waiting for its turn to start there.
    Provisioning,
    /// The agent is creating or starting the container.
    Starting,
    /// The desktop streams.
    Running,
    /// Frozen in memory.
    Paused,
    /// Its programs ended; the container and its files are kept.
    Stopped,
    /// Its container is being removed.
    Deleting,
    /// Over (kept for history).
    Deleted,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 8] = [
        SessionStatus::Requested,
        SessionStatus::Provisioning,
        SessionStatus::Starting,
        SessionStatus::Running,
        SessionStatus::Paused,
        SessionStatus::Stopped,
        SessionStatus::Deleting,
        SessionStatus::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Requested => "requested",
            SessionStatus::Provisioning => "provisioning",
            SessionStatus::Starting => "starting",
            SessionStatus::Running => "running",
            SessionStatus::Paused => "paused",
            SessionStatus::Stopped => "stopped",
            SessionStatus::Deleting => "deleting",
            SessionStatus::Deleted => "deleted",
        }
    }

    /// Not yet streaming for the first time or again (a launch or a start is under way).
    pub fn is_starting(self) -> bool {
        matches!(
            self,
            SessionStatus::Requested | SessionStatus::Provisioning | SessionStatus::Starting
        )
    }

    /// Being removed or gone.
    pub fn is_over(self) -> bool {
        matches!(self, SessionStatus::Deleting | SessionStatus::Deleted)
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SessionStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        SessionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown session status {text:?}"))
    }
}

/// What a user (or the API) asks of a live session's container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionChange {
    /// Freeze it in memory (running → paused).
    Pause,
    /// Stop its processes, keeping the container (running or paused → stopped).
    Stop,
    /// Back to running, from paused or stopped.
    Resume,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_by_their_names() {
        for status in SessionStatus::ALL {
            assert_eq!(status.as_str().parse::<SessionStatus>(), Ok(status));
        }
        assert!("gone".parse::<SessionStatus>().is_err());
    }
}
