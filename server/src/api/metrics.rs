//! `GET /metrics`: Berth's metrics in Prometheus' text format, for a scraper that presents
//! the metrics token (`Authorization: Bearer <token>`, configured with
//! BERTH_METRICS_TOKEN_FILE) or a signed-in administrator. Anyone else gets 401 (no
//! credentials) or 403 (the wrong ones); the figures say how busy the deployment is and what
//! runs on it, which is not for everyone.
use crate::credentials::{bearer, token_matches};
use app::backend::{auth, AppState};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// The token a scraper may present, if one is configured.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    pub token: Option<SecretString>,
}

/// Prometheus' text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn serve(
    State(state): State<AppState>,
    Extension(access): Extension<Arc<MetricsAccess>>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = authorize(&state, &access, &headers).await {
        return refusal;
    }
    crate::metrics::scrape::refresh(&state.db).await;
    let recorder = crate::metrics::recorder();
    recorder.run_upkeep();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        recorder.render(),
    )
        .into_response()
}

async fn authorize(
    state: &AppState,
    access: &MetricsAccess,
    headers: &HeaderMap,
) -> Result<(), Response> {
    if let Some(presented) = bearer(headers) {
        return match &access.token {
            Some(token) if token_matches(presented, token.expose_secret()) => Ok(()),
            _ => Err(refuse(
                StatusCode::FORBIDDEN,
                "That metrics token is not valid.",
            )),
        };
    }
    match auth::user_for_headers(&state.db, headers).await {
        Ok(Some(user)) if user.is_admin() => Ok(()),
        Ok(Some(_)) => Err(refuse(
            StatusCode::FORBIDDEN,
            "Only administrators (or a scraper with the metrics token) may read the metrics.",
        )),
        Ok(None) => {
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                "Send the metrics token as `Authorization: Bearer <token>` (BERTH_METRICS_TOKEN_FILE), or sign in as an administrator.",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Err(response)
        }
        Err(error) => Err(error.into_response()),
    }
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}
