//! Adversarial cases of `authorize`: every asker who is not the session's owner, every state
//! but running, and every setting that is off is refused, with the status the routes answer.
use super::*;
use app::model::Role;
use serde_json::json;
use store::policy::GroupValues;
use uuid::Uuid;

fn user(id: Uuid, role: Role) -> CurrentUser {
    CurrentUser {
        user_id: id,
        username: "u".into(),
        role,
    }
}

fn policy(values: &[(&str, serde_json::Value)]) -> Policy {
    let group = GroupValues {
        group_id: Uuid::new_v4(),
        name: "All Users".into(),
        priority: 100,
        values: values
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    };
    Policy::resolve(&[group], &[])
}

fn status_of(facts: &Facts<'_>, direction: Direction) -> StatusCode {
    match authorize(facts, direction) {
        Ok(()) => StatusCode::OK,
        Err((status, _)) => status,
    }
}

#[test]
fn only_the_owner_of_a_running_session_moves_files() {
    let owner = Uuid::new_v4();
    let me = user(owner, Role::User);
    let defaults = policy(&[]);
    let mut facts = Facts {
        user: Some(&me),
        session: Some((owner, SessionStatus::Running)),
        access: Some(Access::Owner),
        policy: Some(&defaults),
    };
    for direction in [Direction::Upload, Direction::Download] {
        assert_eq!(status_of(&facts, direction), StatusCode::OK);
    }
    // Viewers, with or without control, are refused by name.
    for control in [false, true] {
        facts.access = Some(Access::Viewer { control });
        let (status, message) = authorize(&facts, Direction::Upload).unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("Viewers"), "{message}");
        assert_eq!(
            status_of(&facts, Direction::Download),
            StatusCode::FORBIDDEN
        );
    }
    // Someone with no access, an administrator included.
    let admin = user(Uuid::new_v4(), Role::Admin);
    facts.user = Some(&admin);
    facts.access = None;
    assert_eq!(
        status_of(&facts, Direction::Download),
        StatusCode::FORBIDDEN
    );
    // "Owner" access that is not about this user's own session is not trusted.
    facts.access = Some(Access::Owner);
    assert_eq!(status_of(&facts, Direction::Upload), StatusCode::FORBIDDEN);
    // Anonymous, whether or not the session exists.
    facts.user = None;
    assert_eq!(
        status_of(&facts, Direction::Upload),
        StatusCode::UNAUTHORIZED
    );
    facts.session = None;
    assert_eq!(
        status_of(&facts, Direction::Upload),
        StatusCode::UNAUTHORIZED
    );
    facts.user = Some(&me);
    assert_eq!(status_of(&facts, Direction::Upload), StatusCode::NOT_FOUND);
}

#[test]
fn settings_and_states_are_enforced() {
    let owner = Uuid::new_v4();
    let me = user(owner, Role::User);
    let uploads_off = policy(&[("allow_kasm_uploads", json!(false))]);
    let downloads_off = policy(&[("allow_kasm_downloads", json!(false))]);
    let facts = |policy, status| Facts {
        user: Some(&me),
        session: Some((owner, status)),
        access: Some(Access::Owner),
        policy,
    };
    let (status, message) = authorize(
        &facts(Some(&uploads_off), SessionStatus::Running),
        Direction::Upload,
    )
    .unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("allow_kasm_uploads"), "{message}");
    assert_eq!(
        status_of(
            &facts(Some(&uploads_off), SessionStatus::Running),
            Direction::Download
        ),
        StatusCode::OK
    );
    let (status, message) = authorize(
        &facts(Some(&downloads_off), SessionStatus::Running),
        Direction::Download,
    )
    .unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("allow_kasm_downloads"), "{message}");
    // No policy loaded: refused, never allowed by default.
    assert_eq!(
        status_of(&facts(None, SessionStatus::Running), Direction::Upload),
        StatusCode::FORBIDDEN
    );
    let defaults = policy(&[]);
    for status in [
        SessionStatus::Requested,
        SessionStatus::Starting,
        SessionStatus::Paused,
        SessionStatus::Stopped,
        SessionStatus::Deleting,
        SessionStatus::Deleted,
    ] {
        assert_eq!(
            status_of(&facts(Some(&defaults), status), Direction::Upload),
            StatusCode::CONFLICT,
            "{status}"
        );
    }
}

#[test]
fn the_upload_limit_comes_from_the_groups_and_is_named() {
    assert_eq!(upload_limit(&policy(&[])), Some(1024 * 1_000_000));
    let limited = policy(&[("upload_size_limit_mb", json!(5))]);
    assert_eq!(upload_limit(&limited), Some(5_000_000));
    assert_eq!(
        upload_limit(&policy(&[("upload_size_limit_mb", json!(0))])),
        None
    );
    assert!(check_size(5_000_000, Some(5_000_000)).is_ok());
    let (status, message) = check_size(5_000_001, Some(5_000_000)).unwrap_err();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("at most 5 MB"), "{message}");
    assert!(message.contains("upload_size_limit_mb"), "{message}");
    assert!(check_size(u64::MAX, None).is_ok());
}
