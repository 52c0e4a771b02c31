//! Per-client-address limits on what hostile traffic could repeat cheaply: sign-in attempts,
//! requests with a wrong API key, invalid sign-in links. Counted in Redis by
//! `store::counters` (a fixed window per address and kind), so that they hold across
//! replicas. The address is the connection's peer, or the one a trusted reverse proxy names
//! (`BERTH_CLIENT_ADDRESS_HEADER`).
use crate::AppError;
use redis::aio::ConnectionManager;
use store::counters;

/// How many of one kind of request an address may make in a window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub kind: &'static str,
    pub max: u32,
    pub window_secs: i64,
    /// For the refusal: "Too many <what> from your address".
    pub what: &'static str,
}

/// Sign-in attempts (right or wrong) per address.
pub const SIGN_INS: Limit = Limit {
    kind: "sign_in",
    max: 30,
    window_secs: 60,
    what: "sign-in attempts",
};

/// Developer API requests whose key or secret was wrong, per address.
pub const API_KEY_FAILURES: Limit = Limit {
    kind: "api_key_failure",
    max: 20,
    window_secs: 60,
    what: "requests with a wrong API key",
};

/// Sign-in links (`kasm_url`) that did not sign in, per address.
pub const LINK_FAILURES: Limit = Limit {
    kind: "link_failure",
    max: 20,
    window_secs: 60,
    what: "invalid sign-in links",
};

fn key(prefix: &str, limit: &Limit, address: &str) -> String {
    counters::per_address_key(prefix, limit.kind, address)
}

/// Any failure to count means Redis is not answering (the store has logged it).
fn redis_down(_: store::StoreError) -> AppError {
    AppError::Unavailable("Berth cannot check request limits: Redis is not answering.".into())
}

fn refused(limit: &Limit, ttl: i64) -> AppError {
    let seconds = ttl.clamp(1, limit.window_secs);
    AppError::TooManyRequests(format!(
        "Too many {} from your address. Try again in {seconds} s.",
        limit.what
    ))
}

/// Counts one request of `limit`'s kind and errs with 429 once past the limit.
pub async fn hit(
    redis: &mut ConnectionManager,
    prefix: &str,
    limit: &Limit,
    address: &str,
) -> Result<(), AppError> {
    let key = key(prefix, limit, address);
    let count = counters::add_in_fixed_window(redis, &key, limit.window_secs)
        .await
        .map_err(redis_down)?;
    if count.value > limit.max {
        return Err(refused(limit, count.ttl_secs));
    }
    Ok(())
}

/// Errs with 429 while `address` is past the limit, without counting (for failures, which
/// are counted with [`record`] once known).
pub async fn check(
    redis: &mut ConnectionManager,
    prefix: &str,
    limit: &Limit,
    address: &str,
) -> Result<(), AppError> {
    let key = key(prefix, limit, address);
    let count = counters::read(redis, &key).await.map_err(redis_down)?;
    if count.value >= limit.max {
        return Err(refused(limit, count.ttl_secs));
    }
    Ok(())
}

/// Counts one failure of `limit`'s kind for `address`.
pub async fn record(
    redis: &mut ConnectionManager,
    prefix: &str,
    limit: &Limit,
    address: &str,
) -> Result<(), AppError> {
    hit(redis, prefix, limit, address)
        .await
        .or_else(|error| match error {
            AppError::TooManyRequests(_) => Ok(()),
            other => Err(other),
        })
}

/// Takes back one count of `limit`'s kind for `address` (a reserved attempt that succeeded).
pub async fn forgive(
    redis: &mut ConnectionManager,
    prefix: &str,
    limit: &Limit,
    address: &str,
) -> Result<(), AppError> {
    let key = key(prefix, limit, address);
    counters::subtract_one(redis, &key)
        .await
        .map_err(redis_down)
}

/// The client's address: the last value of `trusted_header` when a reverse proxy in front
/// sets it, else the connection's peer ("unknown" when neither is known).
pub fn client_address(parts: &http::request::Parts, trusted_header: Option<&str>) -> String {
    if let Some(name) = trusted_header {
        let named = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rfind(|value| !value.is_empty());
        if let Some(address) = named {
            return address.chars().take(64).collect();
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, _) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [10, 0, 0, 7],
                4242,
            ))));
        parts
    }

    #[test]
    fn the_peer_is_the_client_unless_a_trusted_proxy_names_one() {
        let spoofed = parts(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_address(&spoofed, None),
            "10.0.0.7",
            "header not trusted"
        );
        let proxied = parts(&[("x-forwarded-for", "1.2.3.4, 5.6.7.8")]);
        assert_eq!(
            client_address(&proxied, Some("x-forwarded-for")),
            "5.6.7.8",
            "the address the proxy itself appended"
        );
        assert_eq!(
            client_address(&parts(&[]), Some("x-forwarded-for")),
            "10.0.0.7"
        );
    }
}
