//! Server functions: the calls the web UI makes. Each is thin; the logic is in `backend`.
//! Endpoints are fixed (under /rpc/) so the browser and server builds always agree.
pub mod account;
pub mod admin;
pub mod agents;
pub mod audit;
pub mod developers;
pub mod groups;
pub mod sessions;
pub mod sharing;
pub mod staging;
pub mod storage;
pub mod users;
pub mod workspaces;

pub use account::*;
pub use admin::*;
pub use agents::*;
pub use audit::*;
pub use developers::*;
pub use groups::*;
pub use sessions::*;
pub use sharing::*;
pub use staging::*;
pub use storage::*;
pub use users::*;
pub use workspaces::*;
