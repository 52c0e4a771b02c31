//! Berth's store: the data every role reads and writes, on `&PgPool`, with no web framework in
//! it (the UI's server functions and the server's roles both use it; neither depends on the
//! other for data). One module per area; one error, [`StoreError`], converted from
//! `sqlx::Error` in one place. Areas move in here one at a time (see README, "How it fits
//! together"): settings, the audit log, user and session look-ups so far.
pub mod audit;
mod error;
pub mod groups;
pub mod images;
pub mod sessions;
pub mod settings;
pub mod users;

pub use error::{database_unavailable, StoreError};
