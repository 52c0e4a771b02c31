//! Which container a request may reach, and whether the asker may reach it.
use app::backend::sharing::Access;
use app::model::{CurrentUser, SessionStatus};
use axum::http::StatusCode;
use sqlx::PgPool;
use store::StoreError;
use uuid::Uuid;

/// A session's container endpoint, as the manager recorded it.
pub use store::sessions::Target;

/// The session's endpoint and owner; None when there is no such session.
pub async fn lookup(db: &PgPool, session_id: Uuid) -> Result<Option<Target>, StoreError> {
    store::sessions::target_of(db, session_id).await
}

/// Anonymous: 401 (whether or not the session exists). Unknown: 404. Staged (nobody's until a
/// launch takes it over): 403 for everyone, administrators included. Neither the owner nor a
/// current viewer: 403. Not running: 409. On success, also the session's owner.
pub fn authorize(
    user: Option<&CurrentUser>,
    target: Option<Target>,
    access: Option<Access>,
) -> Result<(Target, Access, Uuid), (StatusCode, &'static str)> {
    user.ok_or((StatusCode::UNAUTHORIZED, "Please sign in."))?;
    let target = target.ok_or((StatusCode::NOT_FOUND, "No such session."))?;
    let owner = target.owner.ok_or((
        StatusCode::FORBIDDEN,
        "This session is staged: nobody may reach it until a launch takes it over.",
    ))?;
    let access = access.ok_or((
        StatusCode::FORBIDDEN,
        "This session belongs to someone else.",
    ))?;
    if target.status != SessionStatus::Running || target.port.is_none() || target.host.is_empty() {
        return Err((StatusCode::CONFLICT, "The session is not running."));
    }
    Ok((target, access, owner))
}

/// The path below the session prefix, as forwarded: decoded segments must not climb (`..`),
/// and backslashes or control characters are refused.
pub fn clean_path(rest: &str) -> Option<String> {
    let decoded = percent_decode(rest)?;
    if decoded.contains('\\') || decoded.chars().any(|c| c.is_control()) {
        return None;
    }
    if decoded
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return None;
    }
    Some(format!("/{}", rest.trim_start_matches('/')))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    // Decode twice: a doubly encoded "%252e%252e" must not slip through either.
    if decoded.contains('%') && decoded != text {
        return percent_decode(&decoded);
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::Role;

    fn user(id: Uuid) -> CurrentUser {
        CurrentUser {
            user_id: id,
            username: "u".into(),
            role: Role::Admin,
        }
    }

    fn target(owner: Uuid, status: SessionStatus) -> Target {
        Target {
            owner: Some(owner),
            status,
            host: "127.0.0.1".into(),
            port: Some(1),
            secret: "s".into(),
            container_id: Some("c".into()),
        }
    }

    #[test]
    fn only_those_with_access_reach_a_running_session() {
        let owner = Uuid::new_v4();
        let me = Some(user(owner));
        let running = || Some(target(owner, SessionStatus::Running));
        assert_eq!(
            authorize(me.as_ref(), running(), Some(Access::Owner))
                .unwrap()
                .1,
            Access::Owner
        );
        let viewer = Access::Viewer { control: false };
        assert_eq!(
            authorize(me.as_ref(), running(), Some(viewer)).unwrap().1,
            viewer
        );
        assert_eq!(
            authorize(None, running(), Some(Access::Owner))
                .unwrap_err()
                .0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            authorize(None, None, None).unwrap_err().0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            authorize(me.as_ref(), running(), None).unwrap_err().0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            authorize(me.as_ref(), None, None).unwrap_err().0,
            StatusCode::NOT_FOUND
        );
        let paused = Some(target(owner, SessionStatus::Paused));
        assert_eq!(
            authorize(me.as_ref(), paused, Some(Access::Owner))
                .unwrap_err()
                .0,
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn a_staged_session_is_refused_to_everyone_admins_included() {
        let admin = Some(user(Uuid::new_v4()));
        let staged = Target {
            owner: None,
            ..target(Uuid::new_v4(), SessionStatus::Running)
        };
        // Even were some access found for it (a stale share), nobody reaches a staged session.
        for access in [
            None,
            Some(Access::Owner),
            Some(Access::Viewer { control: true }),
        ] {
            let refused = authorize(admin.as_ref(), Some(staged.clone()), access).unwrap_err();
            assert_eq!(refused.0, StatusCode::FORBIDDEN);
            assert!(refused.1.contains("staged"), "{}", refused.1);
        }
    }

    #[test]
    fn paths_cannot_climb_out() {
        assert_eq!(clean_path("vnc.html").as_deref(), Some("/vnc.html"));
        assert_eq!(clean_path("core/rfb.js").as_deref(), Some("/core/rfb.js"));
        assert_eq!(clean_path("").as_deref(), Some("/"));
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "%2e%2e/x",
            "%252e%252e/x",
            "a\\..\\b",
            "a/./b",
            "%00",
            "%zz",
        ] {
            assert!(clean_path(bad).is_none(), "{bad}");
        }
    }
}
