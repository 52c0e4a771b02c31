//! Server-side logic behind the app's server functions (compiled with the `ssr` feature).
//! Functions here take their dependencies as arguments so tests can call them directly;
//! the `*_from_context` helpers fetch those dependencies inside a server function.
pub mod admin_sessions;
pub mod agent_credentials;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod connect;
pub mod cookies;
pub mod groups;
pub mod idle;
pub mod images;
pub mod login_limit;
pub mod monitoring;
pub mod my_sessions;
pub mod password;
pub mod policy;
pub mod rate_limit;
pub mod run_config;
pub mod servers;
pub mod sessions;
pub mod sharing;
pub mod staging;
pub mod state;
pub mod storage;
pub mod users;
pub mod validate;
pub mod workspaces;

pub use state::AppState;

use crate::AppError;
use leptos::prelude::{expect_context, use_context};

/// The shared state, as provided to every server function and SSR render.
pub fn app_state() -> AppState {
    expect_context::<AppState>()
}

/// The request being handled (headers, URI), as provided by leptos_axum.
pub fn request_parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

/// Maps a database failure to a user-facing error (through the store's one mapping: unique
/// violations become a 422 naming the field).
pub fn db_error(error: sqlx::Error) -> AppError {
    AppError::from(store::StoreError::from(error))
}

pub use store::database_unavailable;
