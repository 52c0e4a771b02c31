//! Browser sign-in: checking a password, and the sign-ins it opens (stored server-side by
//! `store::sign_ins`, keyed by a hash of a random cookie token). "Session" means a desktop;
//! a browser's sign-in is a sign-in.
use super::{cookies, login_limit, password, rate_limit, AppState};
use crate::model::{CurrentUser, Role};
use crate::AppError;
use base64::Engine;
use chrono::{Duration, Utc};
use http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The signed-in user for a cookie token, if the sign-in is live and the account enabled.
pub async fn user_for_token(db: &PgPool, token: &str) -> Result<Option<CurrentUser>, AppError> {
    let user = store::sign_ins::user_of(db, &token_hash(token)).await?;
    Ok(user.map(|user| current_user_from(user.user_id, user.username, &user.role)))
}

/// A stored role that is not known reads as the least privileged one.
fn current_user_from(user_id: Uuid, username: String, role: &str) -> CurrentUser {
    CurrentUser {
        user_id,
        username,
        role: Role::parse(role).unwrap_or(Role::User),
    }
}

/// The signed-in user of a request, from its cookie.
pub async fn user_for_headers(
    db: &PgPool,
    headers: &HeaderMap,
) -> Result<Option<CurrentUser>, AppError> {
    let user = match cookies::read(headers, cookies::SESSION_COOKIE) {
        Some(token) => user_for_token(db, &token).await?,
        None => None,
    };
    if let Some(user) = &user {
        // Into the request's span (server/src/api/request_log.rs): who asked.
        tracing::Span::current().record("user", tracing::field::display(&user.username));
    }
    Ok(user)
}

/// The signed-in user of the request a server function is handling.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    // Outside a request (the route list is made by rendering the app once, with no state in
    // context) there is nobody: answer that before asking for the state, which is not there.
    let Some(parts) = super::request_parts() else {
        return Ok(None);
    };
    user_for_headers(&super::app_state().db, &parts.headers).await
}

pub async fn require_user() -> Result<CurrentUser, AppError> {
    current_user().await?.ok_or(AppError::Unauthorized)
}

pub async fn require_admin() -> Result<CurrentUser, AppError> {
    let user = require_user().await?;
    if user.is_admin() {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Checks the credentials and, when they hold, opens a sign-in and returns its token.
/// Attempts are counted per address, and per username and address before the password is
/// checked; past either limit the answer is 429 without checking.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password_attempt: &str,
    user_agent: &str,
    address: &str,
) -> Result<(CurrentUser, String, i64), AppError> {
    let username = username.trim();
    if username.is_empty() || password_attempt.is_empty() {
        return Err(AppError::invalid(
            "username",
            "Enter your username and password.",
        ));
    }
    let mut redis = state.redis.clone();
    let prefix = &state.web.redis_prefix;
    rate_limit::hit(&mut redis, prefix, &rate_limit::SIGN_INS, address).await?;
    login_limit::reserve(&mut redis, prefix, username, address).await?;

    let row = store::users::credentials_by_username(&state.db, username).await?;

    let hash = row.as_ref().and_then(|row| row.password_hash.clone());
    let matches = password::verify(password_attempt.to_owned(), hash).await;
    let user = match row {
        Some(row) if matches && !row.disabled && !row.locked => row,
        found => {
            use store::audit::{Actor, Entry};
            let actor = found
                .as_ref()
                .map_or(Actor::Unknown, |row| Actor::User(row.user_id));
            let entry = Entry {
                actor,
                action: "login",
                target: username,
                outcome: "failed",
                details: serde_json::json!({}),
            };
            store::audit::record(&state.db, entry).await;
            // One message for every failure, so it does not reveal which usernames exist.
            return Err(AppError::Invalid {
                field: Some("password".into()),
                message: "Wrong username or password, or the account is disabled.".into(),
            });
        }
    };
    login_limit::clear(&mut redis, prefix, username, address).await?;

    let (token, lifetime) = open_sign_in(&state.db, user.user_id, user_agent).await?;
    super::audit::ok(&state.db, user.user_id, "login", &user.username).await;

    let current = current_user_from(user.user_id, user.username, &user.role);
    Ok((current, token, lifetime))
}

/// Starts a browser sign-in for `user_id`: returns the cookie token and its lifetime in seconds.
pub async fn open_sign_in(
    db: &PgPool,
    user_id: Uuid,
    user_agent: &str,
) -> Result<(String, i64), AppError> {
    let hours = store::settings::load(db).await?.login_session_hours;
    let lifetime = Duration::hours(hours.clamp(1, 24 * 30));
    let token = new_token();
    let user_agent: String = user_agent.chars().take(300).collect();
    let expires = Utc::now() + lifetime;
    store::sign_ins::open(db, &token_hash(&token), user_id, expires, &user_agent).await?;
    Ok((token, lifetime.num_seconds()))
}

/// The former name of [`open_sign_in`], kept for app/src/backend/connect.rs (being moved to
/// the store in another change).
pub async fn open_session(
    db: &PgPool,
    user_id: Uuid,
    user_agent: &str,
) -> Result<(String, i64), AppError> {
    open_sign_in(db, user_id, user_agent).await
}

/// Ends the sign-in behind `token`.
pub async fn sign_out(db: &PgPool, token: &str) -> Result<(), AppError> {
    Ok(store::sign_ins::end(db, &token_hash(token)).await?)
}

/// Ends every sign-in of a user except, optionally, one token's.
pub async fn end_sign_ins(
    db: &PgPool,
    user_id: Uuid,
    except_token: Option<&str>,
) -> Result<(), AppError> {
    let keep = except_token.map(token_hash);
    Ok(store::sign_ins::end_all_of_user(db, user_id, keep.as_deref()).await?)
}

/// The former name of [`end_sign_ins`], kept for server/src/api/kasm/users.rs (being
/// rewritten in another change).
pub async fn end_sessions(
    db: &PgPool,
    user_id: Uuid,
    except_token: Option<&str>,
) -> Result<(), AppError> {
    end_sign_ins(db, user_id, except_token).await
}

/// Removes expired sign-ins; run periodically.
pub async fn purge_expired_sign_ins(db: &PgPool) -> Result<u64, store::StoreError> {
    store::sign_ins::purge_expired(db).await
}

/// Server-function side of signing in: reads the request, sets the cookie.
pub async fn login_from_context(
    username: String,
    password: String,
) -> Result<CurrentUser, AppError> {
    let state = super::app_state();
    let parts = super::request_parts();
    let address = parts.as_ref().map_or_else(
        || "unknown".to_owned(),
        |parts| rate_limit::client_address(parts, state.web.client_address_header.as_deref()),
    );
    let headers = parts.map(|parts| parts.headers).unwrap_or_default();
    let user_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (user, token, max_age) =
        sign_in(&state, &username, &password, &user_agent, &address).await?;
    let secure = cookies::wants_secure(state.web.cookie_security, &headers);
    set_cookie(&cookies::session_cookie(&token, max_age, secure));
    Ok(user)
}

pub async fn logout_from_context() -> Result<(), AppError> {
    let state = super::app_state();
    let headers = super::request_parts()
        .map(|parts| parts.headers)
        .unwrap_or_default();
    if let Some(token) = cookies::read(&headers, cookies::SESSION_COOKIE) {
        sign_out(&state.db, &token).await?;
    }
    let secure = cookies::wants_secure(state.web.cookie_security, &headers);
    set_cookie(&cookies::session_cookie("", 0, secure));
    Ok(())
}

/// Changes the signed-in user's own password; their other sign-ins end.
pub async fn change_password_from_context(
    current: String,
    new: String,
    confirm: String,
) -> Result<(), AppError> {
    let user = require_user().await?;
    super::validate::password("new_password", &new)?;
    if new != confirm {
        return Err(AppError::invalid(
            "confirm_password",
            "The two new passwords differ.",
        ));
    }
    let state = super::app_state();
    let hash = store::users::password_hash_of(&state.db, user.user_id).await?;
    if !password::verify(current, hash).await {
        return Err(AppError::invalid(
            "current_password",
            "The current password is wrong.",
        ));
    }
    super::users::store_password(&state.db, user.user_id, &new).await?;
    let token = super::request_parts()
        .and_then(|parts| cookies::read(&parts.headers, cookies::SESSION_COOKIE));
    end_sign_ins(&state.db, user.user_id, token.as_deref()).await?;
    super::audit::ok(&state.db, user.user_id, "change_password", &user.username).await;
    Ok(())
}

fn set_cookie(value: &str) {
    if let (Some(options), Ok(value)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        options.append_header(http::header::SET_COOKIE, value);
    }
}
