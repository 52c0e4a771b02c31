//! Plain HTTP to a session container: streamed both ways, client credentials stripped, the
//! session's own secret added.
use super::{refuse, Target};
use crate::agent::ready::basic_auth;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::Response;
use std::sync::OnceLock;
use std::time::Duration;
use uuid::Uuid;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static HTTP client")
    })
}

/// Headers that must not cross the proxy: hop-by-hop ones, the client's credentials and
/// cookies, and anything that tries to steer the upstream.
fn dropped_request_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "cookie"
            | "authorization"
            | "origin"
            | "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-host"
            | "x-forwarded-proto"
            | "x-real-ip"
            | "content-length"
    )
}

fn dropped_response_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "trailer"
            | "upgrade"
            | "set-cookie"
            | "www-authenticate"
    )
}

pub fn upstream_headers(incoming: &HeaderMap, secret: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in incoming {
        if !dropped_request_header(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        header::AUTHORIZATION,
        basic_auth(secret)
            .parse()
            .expect("base64 is a valid header"),
    );
    headers
}

pub async fn forward(request: Request, target: &Target, kasm_id: Uuid, path: &str) -> Response {
    let port = target.port.expect("authorized targets have a port");
    let url = format!("http://{}:{port}{path}", target.host);
    let (parts, body) = request.into_parts();
    let upstream = client()
        .request(parts.method.clone(), &url)
        .headers(upstream_headers(&parts.headers, &target.secret))
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let upstream = match upstream {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::warn!(%kasm_id, %error, "session container unreachable");
            return refuse(
                StatusCode::BAD_GATEWAY,
                "The session's desktop is not answering.",
            );
        }
    };
    let mut response = Response::builder().status(upstream.status());
    let prefix = format!("/desktop/{kasm_id}");
    for (name, value) in upstream.headers() {
        if dropped_response_header(name) {
            continue;
        }
        // Redirects inside the container stay under the session's prefix.
        if name == header::LOCATION {
            if let Ok(location) = value.to_str() {
                if location.starts_with('/') && !location.starts_with("//") {
                    response = response.header(header::LOCATION, format!("{prefix}{location}"));
                    continue;
                }
            }
        }
        response = response.header(name, value);
    }
    response
        .body(Body::from_stream(upstream.bytes_stream()))
        .unwrap_or_else(|_| refuse(StatusCode::BAD_GATEWAY, "Bad answer from the session."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_never_reach_the_container() {
        let mut incoming = HeaderMap::new();
        incoming.insert(
            header::COOKIE,
            "berth_session=secret-token".parse().unwrap(),
        );
        incoming.insert(header::AUTHORIZATION, "Basic Zm9vOmJhcg==".parse().unwrap());
        incoming.insert("x-forwarded-host", "evil.example".parse().unwrap());
        incoming.insert(header::HOST, "evil.example".parse().unwrap());
        incoming.insert(header::ACCEPT, "text/html".parse().unwrap());
        let headers = upstream_headers(&incoming, "pw");
        assert!(headers.get(header::COOKIE).is_none());
        assert!(headers.get("x-forwarded-host").is_none());
        assert!(headers.get(header::HOST).is_none());
        assert_eq!(headers[header::AUTHORIZATION], basic_auth("pw"));
        assert_eq!(headers[header::ACCEPT], "text/html");
    }
}
