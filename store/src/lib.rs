//! Berth's store: the data every role reads and writes, on `&PgPool`, with no web framework in
//! it (the UI's server functions and the server's roles both use it; neither depends on the
//! other for data). One module per area; one error, [`StoreError`], converted from
//! `sqlx::Error` in one place. Areas move in here one at a time (see README, "How it fits
//! together"): settings, the audit log, user look-ups, sessions and sharing, the manager's
//! agents and replicas so far.
pub mod agents;
pub mod audit;
pub mod default_images;
mod error;
pub mod health;
pub mod monitoring;
pub mod replicas;
pub mod sessions;
pub mod settings;
pub mod sharing;
pub mod users;

pub use error::{database_unavailable, StoreError};
