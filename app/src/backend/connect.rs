//! One-time sign-in links for sessions driven through the Developer API: Kasm's
//! `session_token`, carried in `kasm_url`. Opening the link signs the browser in as the
//! session's user (or a viewer who joined through a share link) and opens the session.
//!
//! The links are kept in Redis (`store::sharing::connect_tokens`): handing one out writes
//! nothing to the database.
use super::{auth, AppState};
use crate::AppError;
use uuid::Uuid;

/// How long an issued link stays usable (a new status call replaces it sooner).
pub const LIFETIME_SECS: u64 = 600;

/// A fresh token for `user_id` on `session_id` (as viewer of `share_id` when given), replacing
/// the one issued before: tokens rotate on every call that hands one out, as in Kasm.
pub async fn issue(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    share_id: Option<&str>,
) -> Result<String, AppError> {
    let token = auth::new_token();
    store::sharing::connect_tokens::replace(
        &mut state.redis.clone(),
        &state.web.redis_prefix,
        &auth::token_hash(&token),
        user_id,
        session_id,
        share_id,
        LIFETIME_SECS,
    )
    .await?;
    Ok(token)
}

/// The browser path that redeems `token`.
pub fn url(session_id: Uuid, user_id: Uuid, token: &str) -> String {
    format!(
        "/connect/kasm/{}/{}/{token}",
        session_id.simple(),
        user_id.simple()
    )
}

/// A redeemed link: the page to open and the new sign-in's cookie token.
#[derive(Debug)]
pub struct Redeemed {
    pub location: String,
    pub session_token: String,
    pub max_age_secs: i64,
}

/// Uses up a token: it must match the kasm and user in the link, be unexpired and belong to
/// an enabled, unlocked account. Any failure is one Forbidden, revealing nothing.
pub async fn redeem(
    state: &AppState,
    session_id: Uuid,
    user_id: Uuid,
    token: &str,
    user_agent: &str,
) -> Result<Redeemed, AppError> {
    use store::sharing::connect_tokens;
    let db = &state.db;
    let row = connect_tokens::take(
        &mut state.redis.clone(),
        &state.web.redis_prefix,
        &auth::token_hash(token),
        session_id,
        user_id,
    )
    .await?
    .ok_or(AppError::Forbidden)?;
    if !connect_tokens::account_usable(db, user_id).await? {
        return Err(AppError::Forbidden);
    }
    let (session_token, max_age_secs) = auth::open_session(db, user_id, user_agent).await?;
    super::audit::ok(db, user_id, "login_link", session_id.to_string()).await;
    let location = match row.share_id {
        Some(share_id) => format!("/join/{share_id}"),
        None => format!("/session/{session_id}"),
    };
    Ok(Redeemed {
        location,
        session_token,
        max_age_secs,
    })
}
