//! The Content-Security-Policy of every page: scripts only from Berth itself (its files, and
//! the inline bootstrap Leptos writes, marked with this response's nonce), WebAssembly
//! compilation for the app, connections (server functions, the desktop's and the chat's
//! WebSockets) to Berth only, no plugins, frames of Berth only. Whatever a session could try to
//! put in front of a browser (a container never serves it anything, see proxy/), a script
//! from anywhere else or written into a page does not run.
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// The policy for a response whose inline scripts carry `nonce`.
pub fn policy(nonce: &str) -> String {
    [
        "default-src 'self'".to_owned(),
        // 'wasm-unsafe-eval' lets the app compile its WebAssembly; it allows no JS eval.
        format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        "style-src 'self'".to_owned(),
        // Workspace icons may be links to other sites; noVNC draws its cursor from data: URLs.
        "img-src 'self' data: https: http:".to_owned(),
        "connect-src 'self'".to_owned(),
        "frame-src 'self'".to_owned(),
        "frame-ancestors 'self'".to_owned(),
        "worker-src 'self'".to_owned(),
        "object-src 'none'".to_owned(),
        "base-uri 'self'".to_owned(),
        "form-action 'self'".to_owned(),
    ]
    .join("; ")
}

/// Gives each request a fresh nonce (Leptos renders it into its inline scripts, see
/// `api::router`) and sets the policy on HTML responses.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if is_html
        && !response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        if let Ok(value) = HeaderValue::from_str(&policy(&nonce)) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// For `leptos_routes_with_context`: the request's nonce replaces the one leptos_axum made,
/// so that the inline scripts carry the nonce of the header.
pub fn provide_request_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_berths_own_scripts_and_connections_are_allowed() {
        let policy = policy("abc");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(!policy.contains("'unsafe-eval'"), "{policy}");
        assert!(policy.contains("connect-src 'self';"));
        assert!(policy.contains("object-src 'none'"));
    }
}
