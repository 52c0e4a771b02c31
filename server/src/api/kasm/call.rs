//! [`Call`], the extractor every Developer API endpoint takes: the JSON body (at most
//! [`MAX_BODY`], no NUL anywhere), the caller's API key verified (rate-limited per address)
//! and checked for the endpoint's permissions ([`super::need`]) and its target, then the
//! endpoint's own request read from the body ([`super::params::parse`]). The key's id goes to
//! the audit layer (audit.rs) through the request's [`super::audit::Caller`].
use super::audit::Caller;
use super::{need, params, ApiError, ADMIN_TARGET_PERMISSIONS, EXEC_AS_ROOT};
use app::backend::api_keys::{self, Key};
use app::backend::{rate_limit, AppState};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// The largest request body the Developer API reads.
pub const MAX_BODY: usize = 256 * 1024;

/// A call allowed for its key, with its request.
pub struct Call<T> {
    pub key: Key,
    pub request: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Call<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let endpoint = parts.uri.path().rsplit('/').next().unwrap_or_default();
        let address =
            rate_limit::client_address(&parts, state.web.client_address_header.as_deref());
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
            ApiError::TooLarge(format!(
                "The request body is larger than {} KiB.",
                MAX_BODY / 1024
            ))
        })?;
        let body = json_body(&body)?;
        let target = target_user(endpoint, &body);
        let key = authenticate(state, &body, &address, target).await?;
        if let Some(caller) = parts.extensions.get::<Caller>() {
            caller.set(key.api_key_id);
        }
        authorize(endpoint, &body, &key)?;
        let request = params::parse(body)?;
        Ok(Call { key, request })
    }
}

/// The body as JSON, refused when it is not JSON or holds a NUL character anywhere.
fn json_body(raw: &[u8]) -> Result<Value, ApiError> {
    let body: Value = serde_json::from_slice(raw)
        .map_err(|error| ApiError::Invalid(format!("Invalid JSON body: {error}")))?;
    if let Some(path) = nul_at(&body, "") {
        return Err(ApiError::Invalid(format!(
            "The text at {path} contains a NUL character, which no field accepts."
        )));
    }
    Ok(body)
}

/// The key named by `api_key` and `api_key_secret`, verified (read with the role of the
/// call's target user, if it names one).
async fn authenticate(
    state: &AppState,
    body: &Value,
    address: &str,
    target: Option<Uuid>,
) -> Result<Key, ApiError> {
    let text = |name: &'static str| {
        body.get(name)
            .and_then(Value::as_str)
            .ok_or(ApiError::Missing(name.to_owned()))
    };
    let api_key = text("api_key")?;
    let secret = text("api_key_secret")?;
    verify_key(state, api_key, secret, address, target).await
}

/// Whether the key may make this call: the endpoint's permissions (and not read-only when it
/// changes something), an administrator as its target, a command run as root.
fn authorize(endpoint: &str, body: &Value, key: &Key) -> Result<(), ApiError> {
    let need =
        need(endpoint).ok_or_else(|| ApiError::NotFound(format!("Unknown endpoint {endpoint}")))?;
    if need.permissions.iter().any(|p| !key.has(p)) || (need.modifies && key.read_only) {
        return Err(ApiError::Unauthorized);
    }
    may_act_on_target(key)?;
    if endpoint == "exec_command_kasm" && super::exec::runs_as_root(body) && !key.has(EXEC_AS_ROOT)
    {
        return Err(ApiError::Denied(format!(
            "Running commands as root needs the permission \"{EXEC_AS_ROOT}\"."
        )));
    }
    Ok(())
}

/// The caller's key, if it and its secret hold. An address that keeps sending wrong keys is
/// refused before any is looked at; each Argon2 verification reserves one of its failures
/// first (given back when the secret was right), so that parallel guesses stay within the
/// limit; unknown keys cost no Argon2 and count as failures.
async fn verify_key(
    state: &AppState,
    api_key: &str,
    secret: &str,
    address: &str,
    target: Option<Uuid>,
) -> Result<Key, ApiError> {
    let limit = &rate_limit::API_KEY_FAILURES;
    let prefix = state.web.redis_prefix.as_str();
    let mut redis = state.redis.clone();
    rate_limit::check(&mut redis, prefix, limit, address).await?;
    let reserved = AtomicBool::new(false);
    let verified = api_keys::verify(&state.db, api_key, secret, target, || async {
        let mut redis = state.redis.clone();
        rate_limit::hit(&mut redis, prefix, limit, address).await?;
        reserved.store(true, Ordering::SeqCst);
        Ok(())
    })
    .await?;
    let reserved = reserved.load(Ordering::SeqCst);
    match verified {
        Ok(key) => {
            // Into the request's span (api/request_log.rs): who asked.
            tracing::Span::current().record("api_key", tracing::field::display(key.api_key_id));
            if reserved {
                rate_limit::forgive(&mut redis, prefix, limit, address).await?;
            }
            Ok(key)
        }
        Err(_) => {
            if !reserved {
                rate_limit::record(&mut redis, prefix, limit, address).await?;
            }
            Err(ApiError::Unauthorized)
        }
    }
}

/// Where an endpoint names the user it acts on (changes, signs out, signs in as, or acts in
/// the sessions of).
fn target_user_path(endpoint: &str) -> Option<&'static [&'static str]> {
    match endpoint {
        "update_user" | "delete_user" | "logout_user" | "add_user_group" | "remove_user_group" => {
            Some(&["target_user", "user_id"])
        }
        "update_user_attributes" => Some(&["target_user_attributes", "user_id"]),
        "request_kasm"
        | "get_kasm_status"
        | "join_kasm"
        | "exec_command_kasm"
        | "get_kasm_screenshot"
        | "destroy_kasm"
        | "pause_kasm"
        | "resume_kasm"
        | "stop_kasm" => Some(&["user_id"]),
        _ => None,
    }
}

/// The user the call acts on, if the endpoint names one and the body holds a user id (a
/// missing or malformed one is the endpoint's own error to report).
fn target_user(endpoint: &str, body: &Value) -> Option<Uuid> {
    target_user_path(endpoint)?
        .iter()
        .try_fold(body, |value, key| value.get(key))
        .and_then(Value::as_str)
        .and_then(|text| Uuid::parse_str(text).ok())
}

/// A key acts on an administrator (changes, deletes or signs one out, mints their sign-in
/// links, runs commands in or controls their sessions) only when granted "Users Modify Admin"
/// (or "Global Admin"): "Users Modify" or "User" alone must not reach an administrator. The
/// target's role was read with the key (`target_user`).
fn may_act_on_target(key: &Key) -> Result<(), ApiError> {
    if ADMIN_TARGET_PERMISSIONS.iter().any(|p| key.has(p)) {
        return Ok(());
    }
    if key.target_role.as_deref() == Some("admin") {
        return Err(ApiError::Denied(
            "This key may not act on an administrator: that needs the permission \"Users Modify Admin\".".into(),
        ));
    }
    Ok(())
}

/// Where in a JSON value a string holds a NUL character (`api_key`, `environment.NAME`, ...).
fn nul_at(value: &Value, path: &str) -> Option<String> {
    let here = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(if path.is_empty() {
            "the body".to_owned()
        } else {
            path.to_owned()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_at(item, &here(&index.to_string()))),
        Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            if key.contains('\0') {
                Some(here(&key.replace('\0', "\\0")))
            } else {
                nul_at(field, &here(key))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_found_wherever_they_are() {
        assert_eq!(
            nul_at(&json!({"api_key": "a\u{0}b"}), ""),
            Some("api_key".into())
        );
        assert_eq!(
            nul_at(&json!({"environment": {"X": ["ok", "x\u{0}"]}}), ""),
            Some("environment.X.1".into())
        );
        assert_eq!(nul_at(&json!({"a": "fine", "n": 1}), ""), None);
    }
}
