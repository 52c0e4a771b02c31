//! The sign-in cookie: reading it from a request and writing it to a response.
use super::state::CookieSecurity;
use http::HeaderMap;

pub const SESSION_COOKIE: &str = "berth_session";

/// The value of cookie `name` in the request's Cookie headers.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the request reached us over https.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// A Set-Cookie value for the sign-in token; `max_age_secs == 0` clears the cookie.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    let mut cookie =
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}");
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

pub fn wants_secure(security: CookieSecurity, headers: &HeaderMap) -> bool {
    security == CookieSecurity::Always || is_https(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            "a=1; berth_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(read(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(read(&headers, "missing"), None);
    }

    #[test]
    fn session_cookie_is_http_only_lax_and_secure_over_https() {
        let cookie = session_cookie("t", 60, true);
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Lax"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!session_cookie("t", 60, false).contains("Secure"));
    }

    #[test]
    fn forwarded_proto_https_counts_as_https() {
        let mut headers = HeaderMap::new();
        assert!(!wants_secure(CookieSecurity::Auto, &headers));
        assert!(wants_secure(CookieSecurity::Always, &headers));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(wants_secure(CookieSecurity::Auto, &headers));
    }
}
