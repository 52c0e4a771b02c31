//! Unit tests of the group settings' resolution: priorities, merging, defaults, types.
use super::*;
use serde_json::json;

fn group(name: &str, priority: i32, values: Value) -> GroupValues {
    GroupValues {
        group_id: Uuid::new_v4(),
        name: name.to_owned(),
        priority,
        values: values
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[test]
fn the_lowest_priority_number_among_the_groups_setting_a_value_wins() {
    let all = group(
        "All Users",
        1000,
        json!({"max_kasms_per_user": 2, "allow_kasm_sharing": true}),
    );
    let eng = group("Engineers", 10, json!({"max_kasms_per_user": 5}));
    let ops = group(
        "Ops",
        50,
        json!({"max_kasms_per_user": 1, "allow_kasm_sharing": false}),
    );
    // Given in any order.
    let policy = Policy::resolve(&[all.clone(), ops.clone(), eng.clone()], &[]);
    let limit = policy.get(MAX_KASMS_PER_USER).unwrap();
    assert_eq!(limit.value, json!(5));
    assert_eq!(
        limit.source,
        Source::Group {
            group_id: eng.group_id,
            name: "Engineers".into()
        }
    );
    // Engineers does not set sharing: Ops (50) beats All Users (1000).
    assert!(!policy.allows(ALLOW_KASM_SHARING));
    assert_eq!(
        policy.get(ALLOW_KASM_SHARING).unwrap().source,
        Source::Group {
            group_id: ops.group_id,
            name: "Ops".into()
        }
    );
}

#[test]
fn unset_values_come_from_the_deployment_then_the_built_in_default() {
    let all = group("All Users", 1000, json!({}));
    let deployment = [
        ("max_kasms_per_user", json!(7)),
        ("allow_kasm_sharing", json!("yes")), // wrong type: ignored
    ];
    let policy = Policy::resolve(&[all], &deployment);
    assert_eq!(policy.number(MAX_KASMS_PER_USER), 7);
    assert_eq!(
        policy.get(MAX_KASMS_PER_USER).unwrap().source,
        Source::Deployment
    );
    assert!(policy.allows(ALLOW_KASM_SHARING));
    assert_eq!(
        policy.get(ALLOW_KASM_SHARING).unwrap().source,
        Source::Default
    );
    assert_eq!(policy.number(SESSION_TIME_LIMIT), 0);
    assert_eq!(policy.number(KEEPALIVE_EXPIRATION), 3600);
    assert!(!policy.allows("allow_kasm_microphone"));
    assert_eq!(policy.get("default_image").unwrap().value, Value::Null);
    // Every definition resolves, once.
    assert_eq!(policy.resolved.len(), DEFINITIONS.len());
}

#[test]
fn a_group_value_of_the_wrong_type_is_passed_over() {
    let eng = group(
        "Engineers",
        10,
        json!({"max_kasms_per_user": "many", "allow_kasm_delete": 0}),
    );
    let all = group("All Users", 1000, json!({"max_kasms_per_user": 3}));
    let policy = Policy::resolve(&[eng, all], &[]);
    assert_eq!(policy.number(MAX_KASMS_PER_USER), 3);
    assert!(policy.allows(ALLOW_KASM_DELETE));
}

#[test]
fn mappings_are_merged_from_every_group_the_lowest_number_first() {
    let all = group(
        "All Users",
        1000,
        json!({"volume_mapping": {"/srv/shared": {"bind": "/shared", "mode": "ro"}, "/srv/all": {"bind": "/all"}}}),
    );
    let eng = group(
        "Engineers",
        10,
        json!({"volume_mapping": {"/srv/shared": {"bind": "/shared", "mode": "rw"}, "/srv/eng": {"bind": "/eng"}}}),
    );
    let none = group("Nothing", 20, json!({}));
    let policy = Policy::resolve(&[all, none, eng], &[]);
    let mapping = policy.get("volume_mapping").unwrap();
    assert_eq!(
        mapping.value,
        json!({
            "/srv/shared": {"bind": "/shared", "mode": "rw"},
            "/srv/eng": {"bind": "/eng"},
            "/srv/all": {"bind": "/all"}
        })
    );
    assert_eq!(
        mapping.source,
        Source::Merged(vec!["Engineers".into(), "All Users".into()])
    );
    let nothing = Policy::resolve(&[], &[]);
    let mapping = nothing.get("volume_mapping").unwrap();
    assert_eq!(
        (&mapping.value, &mapping.source),
        (&json!({}), &Source::Default)
    );
}

#[test]
fn client_settings_show_flags_and_numbers() {
    let eng = group(
        "Engineers",
        10,
        json!({"allow_kasm_clipboard_up": false, "idle_disconnect": 15}),
    );
    let settings = Policy::resolve(&[eng], &[]).client_settings();
    assert_eq!(settings["allow_kasm_clipboard_up"], json!(false));
    assert_eq!(settings["allow_kasm_clipboard_down"], json!(true));
    assert_eq!(settings["idle_disconnect"], json!(15));
    assert!(!settings.contains_key("volume_mapping"));
    assert!(!settings.contains_key("default_image"));
}

#[test]
fn checks_name_the_problem() {
    assert_eq!(check("max_kasms_per_user", &json!(3)), Ok(()));
    assert_eq!(check("allow_kasm_sharing", &json!(false)), Ok(()));
    assert_eq!(check("default_image", &Value::Null), Ok(()));
    assert_eq!(
        check("default_image", &json!(Uuid::new_v4().to_string())),
        Ok(())
    );
    assert_eq!(check("volume_mapping", &json!({})), Ok(()));
    assert!(check("no_such", &json!(1))
        .unwrap_err()
        .contains("no setting no_such"));
    assert!(check("max_kasms_per_user", &json!(-1))
        .unwrap_err()
        .contains("whole number"));
    assert!(check("max_kasms_per_user", &json!(1.5)).is_err());
    assert!(check("allow_kasm_sharing", &json!("no"))
        .unwrap_err()
        .contains("true or false"));
    assert!(check("default_image", &json!("firefox")).is_err());
    assert!(check("volume_mapping", &json!([])).is_err());
}

#[test]
fn idle_disconnect_takes_fractions_of_a_minute() {
    assert_eq!(check("idle_disconnect", &json!(0.25)), Ok(()));
    assert_eq!(check("idle_disconnect", &json!(30)), Ok(()));
    assert!(check("idle_disconnect", &json!(-1))
        .unwrap_err()
        .contains("minutes"));
    let none = Policy::resolve(&[], &[]);
    assert_eq!(none.idle_limit(), None);
    let quick = group("Quick", 10, json!({"idle_disconnect": 0.25}));
    assert_eq!(
        Policy::resolve(&[quick], &[]).idle_limit(),
        Some(std::time::Duration::from_secs(15))
    );
    let off = group("Off", 10, json!({"idle_disconnect": 0}));
    assert_eq!(Policy::resolve(&[off], &[]).idle_limit(), None);
}

#[test]
fn the_idle_action_is_one_of_its_words_and_disconnects_only_by_default() {
    use berth_model::SessionChange;
    assert_eq!(check("idle_disconnect_action", &json!("pause")), Ok(()));
    assert!(check("idle_disconnect_action", &json!("explode"))
        .unwrap_err()
        .contains("disconnect, pause, stop"));
    assert!(check("idle_disconnect_action", &json!(1)).is_err());
    assert_eq!(Policy::resolve(&[], &[]).idle_action(), None);
    let pausing = group("Pausing", 10, json!({"idle_disconnect_action": "pause"}));
    let stopping = group("Stopping", 20, json!({"idle_disconnect_action": "stop"}));
    assert_eq!(
        Policy::resolve(&[stopping.clone(), pausing], &[]).idle_action(),
        Some(SessionChange::Pause)
    );
    assert_eq!(
        Policy::resolve(&[stopping], &[]).idle_action(),
        Some(SessionChange::Stop)
    );
}
