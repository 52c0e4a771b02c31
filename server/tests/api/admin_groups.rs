//! Admin → Groups' server functions: administrators only; create (priorities unique), edit,
//! delete (refused for the system groups), members by username, settings checked against
//! their types, workspaces, and a user's effective settings with where each came from.
use crate::support::{error_json, insert_image, message_of, spawn_app, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use store::groups::{ADMINISTRATORS, ALL_USERS};

/// A server function's status and answer: its JSON, or the error's message as a string.
async fn call(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = app.call(client, endpoint, form).await;
    let status = response.status();
    if status.is_success() {
        return (status, response.json().await.unwrap_or(Value::Null));
    }
    (status, json!(message_of(&error_json(response).await)))
}

/// Creates a group through the form; its status and answer.
async fn save(app: &TestApp, admin: &Client, name: &str, priority: &str) -> (StatusCode, Value) {
    let form = [
        ("group_id", ""),
        ("name", name),
        ("description", "d"),
        ("priority", priority),
    ];
    call(app, admin, "admin/save_group", &form).await
}

/// The entry named `name` of a list of objects.
fn named<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == name)
        .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn only_administrators_reach_groups(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (user, ann) = app.signed_in("ann", "user").await;
    let (id, ann) = (ALL_USERS.to_string(), ann.to_string());
    let calls = [
        ("admin/list_groups", vec![]),
        (
            "admin/save_group",
            vec![
                ("group_id", ""),
                ("name", "x"),
                ("description", ""),
                ("priority", ""),
            ],
        ),
        ("admin/delete_group", vec![("group_id", id.as_str())]),
        ("admin/group", vec![("group_id", &id)]),
        (
            "admin/group_member",
            vec![("group_id", &id), ("username", "ann"), ("member", "true")],
        ),
        (
            "admin/group_setting",
            vec![
                ("group_id", &id),
                ("name", "allow_kasm_audio"),
                ("value", "false"),
            ],
        ),
        ("admin/user_policy", vec![("user_id", &ann)]),
    ];
    app.assert_admin_only(&user, &calls).await;

    // The two system groups exist; the root administrator is in Administrators.
    let (_, list) = call(&app, &admin, "admin/list_groups", &[]).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Administrators", "All Users"]);
    assert_eq!(
        (list[0]["members"].clone(), list[1]["members"].clone()),
        (json!(1), json!(2))
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn priorities_are_checked_and_unique_and_system_groups_stay(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    assert_eq!(
        save(&app, &admin, "Engineers", "10").await.0,
        StatusCode::OK
    );
    let (status, message) = save(&app, &admin, "Other", "10").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.as_str().unwrap().contains("priority"), "{message}");
    let (status, message) = save(&app, &admin, "Other", "-3").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.as_str().unwrap().contains("whole number"),
        "{message}"
    );
    // Without a priority: the first free one from 100.
    let (status, _) = save(&app, &admin, "Other", "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = call(&app, &admin, "admin/list_groups", &[]).await;
    assert_eq!(named(&list, "name", "Other")["priority"], 100);

    for system in [ALL_USERS, ADMINISTRATORS] {
        let id = system.to_string();
        let (status, message) =
            call(&app, &admin, "admin/delete_group", &[("group_id", &id)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            message.as_str().unwrap().contains("system group"),
            "{message}"
        );
    }
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn members_settings_and_workspaces_are_checked_and_shown(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    app.create_user("ann", "password-123", "user").await;
    let (_, eng) = save(&app, &admin, "Engineers", "10").await;
    let eng = eng.as_str().unwrap().to_owned();
    let g = |rest: &[(&'static str, &'static str)]| {
        let mut form = vec![("group_id", eng.as_str())];
        form.extend_from_slice(rest);
        form
    };
    let member = |name: &'static str| g(&[("username", name), ("member", "true")]);
    let setting = |name: &'static str, value: &'static str| g(&[("name", name), ("value", value)]);
    assert_eq!(
        call(&app, &admin, "admin/group_member", &member("ann"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, &admin, "admin/group_member", &member("nobody"))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (status, message) = call(
        &app,
        &admin,
        "admin/group_setting",
        &setting("max_kasms_per_user", "lots"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.as_str().unwrap().contains("whole number"),
        "{message}"
    );
    let unknown = call(
        &app,
        &admin,
        "admin/group_setting",
        &setting("allow_everything", "true"),
    )
    .await;
    assert_eq!(unknown.0, StatusCode::BAD_REQUEST);
    let good = call(
        &app,
        &admin,
        "admin/group_setting",
        &setting("max_kasms_per_user", "4"),
    )
    .await;
    assert_eq!(good.0, StatusCode::OK);
    let image = insert_image(&app.db, "Tools").await.to_string();
    let mut assign = g(&[("assigned", "true")]);
    assign.push(("image_id", &image));
    assert_eq!(
        call(&app, &admin, "admin/group_image", &assign).await.0,
        StatusCode::OK
    );

    let (_, detail) = call(&app, &admin, "admin/group", &g(&[])).await;
    assert_eq!(detail["members"][0]["username"], "ann");
    assert_eq!(
        named(&detail["settings"], "name", "max_kasms_per_user")["value"],
        "4"
    );
    assert_eq!(
        named(&detail["images"], "friendly_name", "Tools")["assigned"],
        true
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_users_effective_settings_name_their_groups(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let eng =
        crate::groups::group_with(&app, "Engineers", &[ann], json!({"max_kasms_per_user": 4}))
            .await;
    let ann_id = ann.to_string();
    let (_, policy) = call(&app, &admin, "admin/user_policy", &[("user_id", &ann_id)]).await;
    assert_eq!(policy["groups"], json!(["Engineers", "All Users"]));
    let limit = named(&policy["settings"], "name", "max_kasms_per_user");
    assert_eq!(
        (&limit["value"], &limit["source"]),
        (&json!("4"), &json!("Engineers"))
    );
    assert_eq!(
        named(&policy["settings"], "name", "allow_kasm_audio")["source"],
        "default"
    );

    // Deleted: its members lose its settings.
    let eng = eng.to_string();
    assert_eq!(
        call(&app, &admin, "admin/delete_group", &[("group_id", &eng)])
            .await
            .0,
        StatusCode::OK
    );
    let policy = store::group_access::policy_of(&app.db, ann).await.unwrap();
    assert_eq!(policy.number("max_kasms_per_user"), 2);
}
