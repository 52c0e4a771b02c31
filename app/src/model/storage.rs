//! Persistent profiles and volume mappings as the admin pages show them.
use serde::{Deserialize, Serialize};

/// An image's profile location and volume mappings (pretty JSON), as Admin → Images edits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageStorageRow {
    pub persistent_profile_path: String,
    pub volume_mappings: String,
}

/// One of a user's profile folders on one agent host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRow {
    pub hostname: String,
    pub profile_path: String,
    /// The workspace it was made for (empty when that image is gone).
    pub image: String,
    pub last_used: String,
    /// The session that uses it now.
    pub in_use_by: Option<String>,
}
