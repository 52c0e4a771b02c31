//! The api role: the web app (server-rendered Leptos pages and their server functions) and
//! the JSON endpoints, behind request guards.
mod agent_checkin;
mod connect;
pub mod csp;
mod guard;
mod health;
pub mod kasm;
pub mod metrics;
mod request_log;
mod rpc;

use crate::manager::Manager;
use crate::share::ShareHub;
use app::backend::AppState;
use app::{shell, App};
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Extension;
use axum::{middleware, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router(
    state: AppState,
    manager: Arc<Manager>,
    hub: Arc<ShareHub>,
    metrics_access: metrics::MetricsAccess,
) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    // Open desktop and chat streams, ended when the access they were opened with is gone.
    let streams = crate::access::Streams::new(state.db.clone());
    streams.spawn_watchers();
    let agents = Router::new()
        .route("/api/agent/checkin", post(agent_checkin::handle))
        .with_state(manager.clone());
    // Every body but an upload's (streamed, its length checked against the owner's limit)
    // stops at the limit (the Developer API reads its own, smaller).
    let limited = Router::new()
        .merge(agents)
        .merge(crate::proxy::router())
        .merge(kasm::router(state.clone()))
        .route("/chat/{session_id}", get(crate::share::chat::handle))
        .route(
            "/connect/kasm/{session_id}/{user_id}/{token}",
            get(connect::handle),
        )
        .route("/api/__healthcheck", get(health::healthcheck))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::serve))
        .leptos_routes_with_context(&state, routes, csp::provide_request_nonce, move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(csp::provide_request_nonce, shell))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(rpc::MAX_BODY));
    Router::new()
        .merge(limited)
        .merge(crate::files::routes::router())
        .layer(middleware::from_fn_with_state(state.clone(), guard::pages))
        .layer(Extension(hub))
        .layer(Extension(Arc::new(metrics_access)))
        .layer(Extension(streams))
        .layer(Extension(manager.clone()))
        .layer(middleware::from_fn_with_state(state.clone(), guard::csrf))
        .layer(middleware::from_fn(rpc::guard))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        ))
        .layer(middleware::from_fn(csp::layer))
        .layer(middleware::from_fn(request_log::layer))
        .with_state(state)
}
