//! The Developer API's group endpoints and the key permissions they need: Groups View lists,
//! Groups Create makes, Groups Modify changes (a system group also needs Groups Modify
//! System), Groups Delete deletes (never a system group); a read-only key changes nothing.
use crate::support::{api_call, api_key, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use store::groups::ALL_USERS;

fn message(answer: &Value) -> &str {
    answer["error_message"].as_str().unwrap_or_default()
}

async fn create(app: &TestApp, permissions: &[&str], group: Value) -> (StatusCode, Value) {
    let key = api_key(app, permissions, false).await;
    api_call(app, "create_group", &key, json!({"target_group": group})).await
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn groups_are_listed_created_changed_and_deleted_with_their_permissions(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("keeper", "password-123", "admin").await;
    let viewer = api_key(&app, &["Groups View"], false).await;
    let (status, listed) = api_call(&app, "get_groups", &viewer, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Administrators", "All Users"]);

    // Creating needs Groups Create.
    let engineers = json!({"name": "Engineers", "description": "Build things", "priority": 50});
    let (status, _) = create(&app, &["Groups View"], engineers.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = create(&app, &["Groups Create"], engineers.clone()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["group"]["priority"], json!(50));
    assert_eq!(created["group"]["is_system"], json!(false));
    let group_id = created["group"]["group_id"].as_str().unwrap().to_owned();
    // Hostile or clashing fields are refused by name, never a 5xx.
    let clash = json!({"name": "Other", "priority": 50});
    let (status, answer) = create(&app, &["Groups Create"], clash).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(message(&answer).contains("priority"), "{answer}");
    for bad in [
        json!({"name": "Nul\u{0}byte"}),
        json!({"name": "Zero", "priority": 0}),
        json!({"name": "Word", "priority": "high"}),
        json!({"description": "no name"}),
    ] {
        let (status, answer) = create(&app, &["Groups Create"], bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {answer}");
    }

    // Changing needs Groups Modify, and a system group Groups Modify System too.
    let modifier = api_key(&app, &["Groups Modify"], false).await;
    let rename =
        json!({"target_group": {"group_id": group_id, "name": "Builders", "priority": 60}});
    let (status, changed) = api_call(&app, "update_group", &modifier, rename).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["group"]["name"], json!("Builders"));
    assert_eq!(changed["group"]["priority"], json!(60));
    let all_users = ALL_USERS.simple().to_string();
    let describe = json!({"target_group": {"group_id": all_users, "name": "All Users", "description": "Everyone"}});
    let (status, answer) = api_call(&app, "update_group", &modifier, describe.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        message(&answer).contains("Groups Modify System"),
        "{answer}"
    );
    let system = api_key(&app, &["Groups Modify", "Groups Modify System"], false).await;
    let (status, answer) = api_call(&app, "update_group", &system, describe).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["group"]["description"], json!("Everyone"));

    // A read-only key changes nothing, whatever its permissions.
    let all = ["Groups Create", "Groups Modify", "Groups Delete"];
    let read_only = api_key(&app, &all, true).await;
    let target = json!({"target_group": {"group_id": group_id}});
    let (status, _) = api_call(&app, "delete_group", &read_only, target.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Deleting needs Groups Delete; system groups stay; an unknown group is a 404.
    let deleter = api_key(&app, &["Groups Delete"], false).await;
    let (status, _) = api_call(&app, "delete_group", &modifier, target.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = api_call(&app, "delete_group", &deleter, target.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = api_call(&app, "delete_group", &deleter, target).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let system_group = json!({"target_group": {"group_id": all_users}});
    let (status, answer) = api_call(&app, "delete_group", &deleter, system_group).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(message(&answer).contains("system group"), "{answer}");
    let (_, listed) = api_call(&app, "get_groups", &viewer, json!({})).await;
    assert_eq!(listed["groups"].as_array().unwrap().len(), 2, "{listed}");
}
