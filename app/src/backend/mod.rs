//! Server-side logic behind the app's server functions (compiled with the `ssr` feature).
//! Functions here take their dependencies as arguments so tests can call them directly;
//! the `*_from_context` helpers fetch those dependencies inside a server function.
pub mod admin_sessions;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod connect;
pub mod cookies;
pub mod images;
pub mod login_limit;
pub mod my_sessions;
pub mod password;
pub mod rate_limit;
pub mod run_config;
pub mod servers;
pub mod sessions;
pub mod sharing;
pub mod state;
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

/// Maps a database failure to a user-facing error, turning unique-constraint violations into
/// a 422 naming the field.
pub fn db_error(error: sqlx::Error) -> AppError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation() {
            let field = match db.constraint() {
                Some("users_username_key") => "username",
                Some("images_friendly_name_key") => "friendly_name",
                Some("groups_name_key") => "name",
                _ => "",
            };
            let message = match field {
                "username" => "That username is already taken.".to_owned(),
                "" => "That already exists.".to_owned(),
                other => format!("That {other} is already taken."),
            };
            return AppError::Conflict {
                field: (!field.is_empty()).then(|| field.to_owned()),
                message,
            };
        }
        // Text PostgreSQL cannot store (a NUL character) that got past the inputs' checks.
        if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) {
            return AppError::Invalid {
                field: None,
                message: "The text contains a character that cannot be stored (NUL).".into(),
            };
        }
    }
    if database_unavailable(&error) {
        tracing::error!(%error, "database unavailable");
        return AppError::Unavailable("The database is not answering; try again shortly.".into());
    }
    tracing::error!(%error, "database error");
    AppError::Internal("database error".into())
}

/// Whether `error` says the database cannot be reached now (down, restarting, the connection
/// lost), as opposed to a fault of the query.
pub fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception), 57P01-57P03 (shut down, crashed, starting).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}
