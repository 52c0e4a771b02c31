//! Profile templates and volume mappings: what is accepted and what is refused.
use super::*;
use serde_json::json;

fn ids() -> (Uuid, Uuid) {
    (
        Uuid::parse_str("11111111-1111-1111-1111-111111111111").unwrap(),
        Uuid::parse_str("22222222-2222-2222-2222-222222222222").unwrap(),
    )
}

#[test]
fn templates_resolve_each_placeholder() {
    let (user, image) = ids();
    assert_eq!(
        resolve_profile("{username}/{image_id}", "alice.b@corp", user, image).unwrap(),
        "alice.b@corp/22222222-2222-2222-2222-222222222222"
    );
    assert_eq!(
        resolve_profile("users/{user_id}-{image_id}", "x", user, image).unwrap(),
        "users/11111111-1111-1111-1111-111111111111-22222222-2222-2222-2222-222222222222"
    );
}

#[test]
fn hostile_usernames_cannot_leave_the_root() {
    let (user, image) = ids();
    for hostile in [
        "..",
        "../../etc",
        "a/b",
        ".hidden",
        "a\0b",
        "",
        "é",
        "a b",
        "/abs",
    ] {
        let refused = resolve_profile("{username}/{image_id}", hostile, user, image);
        assert!(refused.is_err(), "{hostile:?} was accepted: {refused:?}");
    }
    // A template by user id does not depend on the username at all.
    assert!(resolve_profile("{user_id}", "../..", user, image).is_ok());
}

#[test]
fn templates_are_checked_when_saved() {
    for good in ["", "{username}/{image_id}", "p/{user_id}", "{username}"] {
        assert_eq!(check_profile_template(good), Ok(()), "{good}");
    }
    for (bad, says) in [
        ("/mnt/profiles/{username}", "relative"),
        ("shared/{image_id}", "{username} or {user_id}"),
        ("{username}/../x", "no '..'"),
        ("{username}//x", "no '..'"),
        ("{username}/{home}", "may only use"),
        ("{username}/", "no '..'"),
    ] {
        let error = check_profile_template(bad).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

#[test]
fn mappings_read_kasm_objects_with_their_mode() {
    let mappings = parse_mappings(&json!({
        "/srv/share": {"bind": "/mnt/share", "mode": "ro"},
        "/srv/work": {"bind": "/home/berth/work"}
    }))
    .unwrap();
    assert_eq!(mappings.len(), 2);
    let share = mappings
        .iter()
        .find(|m| m.host_path == "/srv/share")
        .unwrap();
    assert!(share.read_only);
    assert_eq!(share.container_path, "/mnt/share");
    assert!(
        !mappings
            .iter()
            .find(|m| m.host_path == "/srv/work")
            .unwrap()
            .read_only
    );
    assert_eq!(parse_mappings(&json!({})).unwrap(), vec![]);
}

#[test]
fn mapping_tricks_and_system_paths_are_refused_naming_the_path() {
    for (mapping, names) in [
        (json!({"/srv/../etc": {"bind": "/mnt/x"}}), "/srv/../etc"),
        (json!({"srv": {"bind": "/mnt/x"}}), "'srv'"),
        (json!({"/srv/a\u{0}b": {"bind": "/mnt/x"}}), "host path"),
        (json!({"/": {"bind": "/mnt/x"}}), "'/'"),
        (json!({"/srv/x": {"bind": "/"}}), "'/'"),
        (json!({"/srv/x": {"bind": "/proc/self"}}), "/proc/self"),
        (json!({"/srv/x": {"bind": "/etc"}}), "/etc"),
        (json!({"/srv/x": {"bind": "/dev"}}), "/dev"),
        (json!({"/srv/x": {"bind": "/home/berth"}}), "/home/berth"),
        (json!({"/srv/x": {"bind": "mnt"}}), "'mnt'"),
        (json!({"/srv/x": {"bind": "/mnt/x", "mode": "wx"}}), "'wx'"),
        (json!({"/srv/x": {"mode": "rw"}}), "/srv/x"),
        (json!({"/srv/x": {"bind": "/mnt/../etc"}}), "/mnt/../etc"),
    ] {
        let error = parse_mappings(&mapping).unwrap_err();
        assert!(error.contains(names), "{mapping}: {error}");
    }
    assert!(parse_mappings(&json!(["/srv"])).is_err());
}

#[test]
fn roots_are_whole_folders() {
    let roots = vec!["/srv/berth".to_owned()];
    let mapping = |host: &str| VolumeMapping {
        host_path: host.into(),
        container_path: "/mnt/x".into(),
        read_only: false,
    };
    assert!(check_under_roots(&[mapping("/srv/berth/team")], &roots).is_ok());
    assert!(check_under_roots(&[mapping("/srv/berth")], &roots).is_ok());
    let error = check_under_roots(&[mapping("/srv/berthday")], &roots).unwrap_err();
    assert!(error.contains("/srv/berthday"), "{error}");
    let none = check_under_roots(&[mapping("/srv/berth/a")], &[]).unwrap_err();
    assert!(none.contains("BERTH_VOLUME_ROOTS"), "{none}");
}

#[test]
fn the_image_mapping_wins_a_container_path_both_map() {
    let mapping = |host: &str, container: &str| VolumeMapping {
        host_path: host.into(),
        container_path: container.into(),
        read_only: false,
    };
    let merged = merge(
        vec![mapping("/a", "/mnt/x")],
        vec![mapping("/b", "/mnt/x"), mapping("/c", "/mnt/y")],
    );
    assert_eq!(
        merged,
        vec![mapping("/a", "/mnt/x"), mapping("/c", "/mnt/y")]
    );
}
