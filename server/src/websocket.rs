//! Who may open a WebSocket: an upgrade request from one of Berth's own pages (the desktop
//! stream and the chat both check this).
use axum::http::{header, HeaderMap};

pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Browsers always send Origin on WebSockets; only our own pages may open one.
pub fn origin_allowed(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host));
    same_host || public_origin.is_some_and(|public| origin.eq_ignore_ascii_case(public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_origin_may_open_a_desktop_socket() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(!origin_allowed(&headers, None), "no Origin");
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(origin_allowed(&headers, None));
        headers.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!origin_allowed(&headers, None));
        assert!(origin_allowed(&headers, Some("http://evil.example")));
    }
}
