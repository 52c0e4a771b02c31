//! One span and one log line per request, at INFO: the method, the matched route (its
//! template, never the raw URI: `/connect/kasm/{session_id}/{user_id}/{token}` carries a sign-in
//! token, query strings carry API keys), the status, the latency and who asked. Who asked is
//! recorded into the span by the code that finds out (the cookie's user in
//! `app::backend::auth::user_for_headers`, the key in the Developer API's verification), so
//! everything logged while handling the request carries it as well.
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The route of requests no route matched (pages and files are served by the fallback).
const UNMATCHED: &str = "(fallback)";

pub async fn layer(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        user = tracing::field::Empty,
        api_key = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let took = started.elapsed();
    count_request(&method, &route, status, took);
    let latency_ms = format!("{:.1}", took.as_secs_f64() * 1000.0);
    let _entered = span.enter();
    if status >= 500 {
        tracing::error!(status, %latency_ms, "request failed");
    } else {
        tracing::info!(status, %latency_ms, "request");
    }
    response
}

/// `berth_http_requests_total` and `berth_http_request_duration_seconds`. Every label has a
/// bounded set of values, whatever clients send: the route's template (never the raw path),
/// the standard methods (any other is "other"), the status.
fn count_request(method: &axum::http::Method, route: &str, status: u16, took: Duration) {
    use crate::metrics::names::{HTTP_DURATION, HTTP_REQUESTS};
    const STANDARD: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let method: &'static str = STANDARD
        .into_iter()
        .find(|standard| *standard == method.as_str())
        .unwrap_or("other");
    metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route.to_owned(),
        "status" => status.to_string(),
    )
    .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route.to_owned()).record(took.as_secs_f64());
}
