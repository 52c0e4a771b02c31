//! Request guards: CSRF protection for state-changing requests, and sign-in/role checks for
//! pages (server functions check for themselves).
use app::backend::{auth, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// Refuses a state-changing request that a browser marks as coming from another site.
/// Browsers send `Sec-Fetch-Site` (and `Origin`) on such requests; clients that send neither
/// (curl, API clients) cannot be made to act by a third-party page.
pub async fn csrf(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && is_cross_site(request.headers(), state.web.public_origin.as_deref()) {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-site request refused: state-changing requests must come from Berth's own pages.",
        )
            .into_response();
    }
    next.run(request).await
}

pub fn is_cross_site(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let own = origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host));
            !own && public_origin.is_none_or(|public| !origin.eq_ignore_ascii_case(public))
        }
    }
}

/// Pages that need a signed-in user, and those that need an administrator.
fn page_access(path: &str) -> Access {
    if path == "/admin" || path.starts_with("/admin/") {
        Access::Admin
    } else if path == "/"
        || path == "/account"
        || path.starts_with("/session/")
        || path.starts_with("/join/")
    {
        Access::User
    } else {
        Access::Anyone
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Access {
    Anyone,
    User,
    Admin,
}

/// Anonymous visitors of protected pages go to the sign-in page; signed-in non-admins get the
/// admin pages' 403 (the page itself explains). Signed-in visitors of /login go home.
pub async fn pages(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let access = page_access(&path);
    if access == Access::Anyone && path != "/login" {
        return next.run(request).await;
    }
    let user = match auth::user_for_headers(&state.db, request.headers()).await {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    match (access, user) {
        (Access::Anyone, Some(_)) => Redirect::to("/").into_response(),
        (Access::Anyone, None) => next.run(request).await,
        (_, None) => {
            let target = request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/");
            let next_param: String =
                url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next_param}")).into_response()
        }
        (Access::Admin, Some(user)) if !user.is_admin() => {
            let mut response = next.run(request).await;
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
        (_, Some(_)) => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_origin_requests_pass() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(!is_cross_site(&h, None));
    }

    #[test]
    fn other_origins_are_refused() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example"),
        ]);
        assert!(is_cross_site(&h, None));
        let h = headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]);
        assert!(is_cross_site(&h, None));
        let h = headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "same-site")]);
        assert!(is_cross_site(&h, None));
    }

    #[test]
    fn the_public_origin_counts_as_own() {
        let h = headers(&[
            ("host", "10.0.0.5:3000"),
            ("origin", "https://berth.example.com"),
        ]);
        assert!(!is_cross_site(&h, Some("https://berth.example.com")));
    }

    #[test]
    fn non_browser_clients_without_origin_pass() {
        assert!(!is_cross_site(&headers(&[("host", "x")]), None));
    }

    #[test]
    fn pages_are_classified() {
        assert_eq!(page_access("/admin/users"), Access::Admin);
        assert_eq!(page_access("/admin"), Access::Admin);
        assert_eq!(page_access("/administrator"), Access::Anyone);
        assert_eq!(page_access("/"), Access::User);
        assert_eq!(page_access("/pkg/berth.js"), Access::Anyone);
    }
}
