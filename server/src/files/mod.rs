//! File transfer between the user's computer and a session (issue #15): uploads into the
//! session's `~/Uploads`, downloads from its `~/Downloads`, streamed end to end (browser →
//! web server → the session's agent → the host folder behind the session's folder, or
//! `docker exec` as the session's user when there is none, and back) so that memory stays
//! flat whatever the size.
//!
//! - `names`: which file names a transfer may use
//! - `chunks`: the bytes regrouped into large pieces between hops
//! - `access`: who may transfer (the owner, as the groups allow), as a pure function
//! - `routes`: the browser's endpoints under `/files/{session_id}`
//! - `agent::host_files` and `agent::files` (agent side: host folders, `docker exec`) and
//!   `manager::files` (the manager's calls to it)
pub mod access;
pub mod chunks;
pub mod names;
pub mod routes;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::pin::Pin;

/// Bytes streamed through, never collected.
pub type ByteStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// One file of `~/Downloads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    /// Last modified, RFC 3339 in UTC.
    pub modified: String,
}

/// The result of a completed upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub name: String,
    pub size: u64,
}

/// Why a transfer did not happen, by who is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The request asks for something refused (a path trick, a symbolic link out, a folder):
    /// 400.
    #[error("{0}")]
    Refused(String),
    /// No such file: 404.
    #[error("{0}")]
    Missing(String),
    /// The session has no running container: 409.
    #[error("{0}")]
    NotRunning(String),
    /// The agent or container failed: 502.
    #[error("{0}")]
    Failed(String),
}

impl FileError {
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            FileError::Refused(_) => StatusCode::BAD_REQUEST,
            FileError::Missing(_) => StatusCode::NOT_FOUND,
            FileError::NotRunning(_) => StatusCode::CONFLICT,
            FileError::Failed(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The error an agent's answer of `status` with `message` stands for.
    pub fn from_status(status: u16, message: String) -> FileError {
        match status {
            400 | 413 => FileError::Refused(message),
            404 => FileError::Missing(message),
            409 => FileError::NotRunning(message),
            _ => FileError::Failed(message),
        }
    }
}
