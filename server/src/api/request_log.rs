//! One span and one log line per request, at INFO: the method, the matched route (its
//! template, never the raw URI: `/connect/kasm/{kasm_id}/{user_id}/{token}` carries a sign-in
//! token, query strings carry API keys), the status, the latency and who asked. Who asked is
//! recorded into the span by the code that finds out (the cookie's user in
//! `app::backend::auth::user_for_headers`, the key in the Developer API's verification), so
//! everything logged while handling the request carries it as well.
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// The route of requests no route matched (pages and files are served by the fallback).
const UNMATCHED: &str = "(fallback)";

pub async fn layer(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        user = tracing::field::Empty,
        api_key = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0);
    let _entered = span.enter();
    if status >= 500 {
        tracing::error!(status, %latency_ms, "request failed");
    } else {
        tracing::info!(status, %latency_ms, "request");
    }
    response
}
