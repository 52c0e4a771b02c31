//! `GET /connect/kasm/<session_id>/<user_id>/<session_token>`: the browser side of the Developer
//! API's `kasm_url`. It signs the browser in as that user and opens the session.
use app::backend::{connect, cookies, rate_limit, AppState};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use uuid::Uuid;

pub async fn handle(
    State(state): State<AppState>,
    Path((session_id, user_id, token)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let headers: &HeaderMap = &parts.headers;
    // An address that keeps presenting invalid links is refused before any is looked at.
    let address = rate_limit::client_address(&parts, state.web.client_address_header.as_deref());
    let mut redis = state.redis.clone();
    let prefix = &state.web.redis_prefix;
    if let Err(error) =
        rate_limit::check(&mut redis, prefix, &rate_limit::LINK_FAILURES, &address).await
    {
        return refused(error.status(), &error.to_string());
    }
    let (Ok(session_id), Ok(user_id)) = (Uuid::parse_str(&session_id), Uuid::parse_str(&user_id))
    else {
        let _ = rate_limit::record(&mut redis, prefix, &rate_limit::LINK_FAILURES, &address).await;
        return refused(StatusCode::BAD_REQUEST, "This link is malformed.");
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    match connect::redeem(&state, session_id, user_id, &token, user_agent).await {
        Ok(redeemed) => {
            let secure = cookies::wants_secure(state.web.cookie_security, headers);
            let cookie =
                cookies::session_cookie(&redeemed.session_token, redeemed.max_age_secs, secure);
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, redeemed.location),
                    (header::SET_COOKIE, cookie),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                    // The token is in this URL: never hand it on.
                    (header::REFERRER_POLICY, "no-referrer".to_owned()),
                ],
            )
                .into_response()
        }
        Err(app::AppError::Forbidden) => {
            let _ =
                rate_limit::record(&mut redis, prefix, &rate_limit::LINK_FAILURES, &address).await;
            refused(
                StatusCode::FORBIDDEN,
                "This link has expired or was already used. Ask the application that gave it to you for a new one, or sign in.",
            )
        }
        Err(error) => refused(error.status(), &error.to_string()),
    }
}

/// A small page saying why, with the way to sign in instead.
fn refused(status: StatusCode, message: &str) -> Response {
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Berth</title>\
         <link rel=\"stylesheet\" href=\"/pkg/berth.css\"></head><body><main class=\"centered\">\
         <div class=\"card\" id=\"connect-refused\"><h1>Cannot open this session</h1><p>{message}</p>\
         <a class=\"button\" href=\"/login\">Sign in</a></div></main></body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response()
}
