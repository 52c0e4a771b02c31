//! Berth's store: the data every role reads and writes, on `&PgPool`, with no web framework in
//! it (the UI's server functions and the server's roles both use it; neither depends on the
//! other for data). One module per area; one error, [`StoreError`], converted from
//! `sqlx::Error` in one place: settings, the audit log, users and their sign-ins, Developer
//! API keys, groups (their members, settings resolved by `policy`, workspaces), agent credentials, servers and the manager's view of agents, replicas, images,
//! sessions and sharing, monitoring's aggregates; and the request limits' counters, which are
//! in Redis.
pub mod agent_credentials;
pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod counters;
pub mod default_images;
mod error;
pub mod group_access;
pub mod groups;
pub mod health;
pub mod idle;
pub mod images;
pub mod monitoring;
pub mod mounts;
pub mod policy;
pub mod presence;
pub mod profiles;
pub mod replicas;
pub mod servers;
pub mod sessions;
pub mod settings;
pub mod sharing;
pub mod sign_ins;
pub mod staging;
pub mod users;

pub use error::{database_unavailable, StoreError};
