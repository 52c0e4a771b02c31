//! Staging (warm pool) configs as Admin → Staging shows them.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A staging config with its pool's counts now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingRow {
    pub staging_config_id: Uuid,
    pub image_id: Uuid,
    pub image_name: String,
    /// None: any agent placement chooses.
    pub server_id: Option<Uuid>,
    pub server_name: Option<String>,
    /// Sessions to keep ready.
    pub desired: i32,
    /// How long a staged session may wait before it is recycled, in seconds.
    pub expiry_secs: i32,
    /// Running and nobody's: ready to be handed over.
    pub ready: i64,
    /// Being started for the pool.
    pub starting: i64,
    /// Handed over to users and not yet deleted.
    pub used: i64,
}
