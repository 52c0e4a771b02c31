use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use std::sync::Arc;

/// Everything a request handler or server function needs. Cloned per request (cheap).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: PgPool,
    pub redis: ConnectionManager,
    pub web: Arc<WebSettings>,
    /// The manager, for session launches and destruction.
    pub sessions: Arc<dyn super::sessions::SessionControl>,
}

/// Settings of the web front that do not live in the database.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Prepended to every Redis key, so several deployments (or tests) can share a Redis.
    pub redis_prefix: String,
    pub cookie_security: CookieSecurity,
    /// The externally visible origin (scheme://host[:port]), when known; accepted as an
    /// Origin for state-changing requests besides the request's own Host.
    pub public_origin: Option<String>,
    /// The header in which a trusted reverse proxy names the client's address (for per-address
    /// limits); without it, the connection's peer is the client.
    pub client_address_header: Option<String>,
}

/// When the session cookie carries the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecurity {
    /// Secure when the request arrived over https (directly or per X-Forwarded-Proto).
    Auto,
    Always,
}
