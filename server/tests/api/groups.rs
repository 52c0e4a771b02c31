//! Groups and their settings enforced by the running server (issue #14): the session limit,
//! workspace assignments, delete/pause/stop, sharing, the expiry settings and the Developer
//! API's view of them, through the UI's server functions and the Developer API alike.
use crate::support::{
    api_call, api_key, error_json, insert_image, insert_session, message_of, spawn_app, ApiKey,
    TestApp,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use store::groups::{GroupFields, ALL_USERS};
use uuid::Uuid;

/// A group with these members and settings.
pub async fn group_with(app: &TestApp, name: &str, members: &[Uuid], settings: Value) -> Uuid {
    let group_id = store::groups::create(
        &app.db,
        GroupFields {
            name,
            description: "",
            priority: None,
        },
    )
    .await
    .unwrap();
    for &user_id in members {
        store::groups::add_member(&app.db, user_id, group_id)
            .await
            .unwrap();
    }
    set(app, group_id, settings).await;
    group_id
}

/// Sets each of `settings` (null: unsets it) on the group.
pub async fn set(app: &TestApp, group_id: Uuid, settings: Value) {
    for (name, value) in settings.as_object().unwrap() {
        if value.is_null() {
            store::group_access::unset_setting(&app.db, group_id, name)
                .await
                .unwrap();
        } else {
            store::policy::check(name, value).unwrap();
            store::group_access::set_setting(&app.db, group_id, name, value)
                .await
                .unwrap();
        }
    }
}

fn hex(id: Uuid) -> String {
    id.simple().to_string()
}

/// A user's key: acting for users and on their sessions.
async fn user_key(app: &TestApp) -> ApiKey {
    api_key(
        app,
        &[
            "User",
            "Users Auth Session",
            "Sessions Modify",
            "Sessions View",
        ],
        false,
    )
    .await
}

/// The UI's answer: its status and message.
async fn ui(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = app.call(client, endpoint, form).await;
    let status = response.status();
    if status.is_success() {
        return (status, response.text().await.unwrap());
    }
    (status, message_of(&error_json(response).await))
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn max_kasms_per_user_comes_from_the_users_groups_by_priority(db: PgPool) {
    let app = spawn_app(db).await;
    let (ann_http, ann) = app.signed_in("ann", "user").await;
    let image = insert_image(&app.db, "Desk").await;
    insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let key = user_key(&app).await;
    let strict = group_with(&app, "Strict", &[ann], json!({"max_kasms_per_user": 1})).await;
    set(&app, ALL_USERS, json!({"max_kasms_per_user": 5})).await;

    // Strict (priority 100) beats All Users (1000): one session is the limit.
    let (status, message) = ui(
        &app,
        &ann_http,
        "sessions/launch",
        &[("image_id", &image.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
    assert!(message.contains("max_kasms_per_user 1"), "{message}");
    let request = json!({"user_id": hex(ann), "image_id": hex(image)});
    let (status, answer) = api_call(&app, "request_kasm", &key, request.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert!(answer["error_message"].as_str().unwrap().contains("limit"));

    // Without Strict's value, All Users' 5 applies: the launch passes the limit (and, with no
    // agent, finds no capacity).
    set(&app, strict, json!({"max_kasms_per_user": null})).await;
    let (status, answer) = api_call(&app, "request_kasm", &key, request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn users_see_and_launch_only_the_workspaces_of_their_groups(db: PgPool) {
    let app = spawn_app(db).await;
    let (ann_http, ann) = app.signed_in("ann", "user").await;
    let (admin_http, _) = app.signed_in("root", "admin").await;
    let key = user_key(&app).await;
    // New images are offered to All Users until an administrator changes that.
    insert_image(&app.db, "Everyone's").await;
    let secret = insert_image(&app.db, "Engineering").await;
    let unassigned = insert_image(&app.db, "Unassigned").await;
    let eng = group_with(&app, "Engineers", &[], json!({})).await;
    store::group_access::assign_image(&app.db, ALL_USERS, secret, false)
        .await
        .unwrap();
    store::group_access::assign_image(&app.db, eng, secret, true)
        .await
        .unwrap();
    store::group_access::assign_image(&app.db, ALL_USERS, unassigned, false)
        .await
        .unwrap();

    let names = |client: Client| {
        let app = &app;
        async move {
            let response = app.call(&client, "list_workspaces", &[]).await;
            assert_eq!(response.status(), StatusCode::OK);
            let list: Value = response.json().await.unwrap();
            let mut names: Vec<String> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["friendly_name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(names(ann_http.clone()).await, ["Everyone's"]);
    // Administrators also see images assigned to no group.
    assert_eq!(
        names(admin_http.clone()).await,
        ["Everyone's", "Unassigned"]
    );

    for image in [secret, unassigned] {
        let (status, message) = ui(
            &app,
            &ann_http,
            "sessions/launch",
            &[("image_id", &image.to_string())],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
        assert!(
            message.contains("not assigned to any of your groups"),
            "{message}"
        );
        let request = json!({"user_id": hex(ann), "image_id": hex(image)});
        let (status, answer) = api_call(&app, "request_kasm", &key, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(answer["error_message"]
            .as_str()
            .unwrap()
            .contains("not assigned"));
    }
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sessions")
            .fetch_one(&app.db)
            .await
            .unwrap(),
        0,
        "nothing was launched"
    );

    // A member of Engineers sees its workspace and gets past the check (no agent: 503).
    store::groups::add_member(&app.db, ann, eng).await.unwrap();
    assert_eq!(names(ann_http.clone()).await, ["Engineering", "Everyone's"]);
    let request = json!({"user_id": hex(ann), "image_id": hex(secret)});
    let (status, answer) = api_call(&app, "request_kasm", &key, request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn delete_pause_and_stop_switched_off_refuse_the_users_own_actions(db: PgPool) {
    let app = spawn_app(db).await;
    let (ann_http, ann) = app.signed_in("ann", "user").await;
    let image = insert_image(&app.db, "Desk").await;
    let session_id = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let key = user_key(&app).await;
    let locked = group_with(
        &app,
        "Kiosk",
        &[ann],
        json!({"allow_kasm_delete": false, "allow_kasm_pause": false, "allow_kasm_stop": false}),
    )
    .await;
    let id = session_id.to_string();
    let body = json!({"user_id": hex(ann), "kasm_id": hex(session_id)});

    for (change, setting, endpoint) in [
        ("pause", "allow_kasm_pause", "pause_kasm"),
        ("stop", "allow_kasm_stop", "stop_kasm"),
    ] {
        let (status, message) = ui(
            &app,
            &ann_http,
            "sessions/change",
            &[("session_id", &id), ("change", change)],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
        assert!(message.contains(setting), "{message}");
        let (status, answer) = api_call(&app, endpoint, &key, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(answer["error_message"].as_str().unwrap().contains(setting));
    }
    let (status, message) = ui(&app, &ann_http, "sessions/delete", &[("session_id", &id)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
    assert!(message.contains("allow_kasm_delete"), "{message}");
    let (status, answer) = api_call(&app, "destroy_kasm", &key, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let status: String =
        sqlx::query_scalar("SELECT operational_status FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status, "running");

    // Allowed again: the delete goes through.
    set(&app, locked, json!({"allow_kasm_delete": null})).await;
    let (status, message) = ui(&app, &ann_http, "sessions/delete", &[("session_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{message}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn sharing_switched_off_refuses_links_and_client_settings_show_the_resolved_values(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let (ann_http, ann) = app.signed_in("ann", "user").await;
    let image = insert_image(&app.db, "Desk").await;
    let session_id = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let key = user_key(&app).await;
    let group = group_with(
        &app,
        "No sharing",
        &[ann],
        json!({"allow_kasm_sharing": false, "allow_kasm_clipboard_up": false, "idle_disconnect": 15}),
    )
    .await;
    let id = session_id.to_string();
    let (status, message) = ui(
        &app,
        &ann_http,
        "sharing/set",
        &[("session_id", &id), ("enabled", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
    assert!(message.contains("allow_kasm_sharing"), "{message}");
    let request = json!({"user_id": hex(ann), "image_id": hex(image), "enable_sharing": true});
    let (status, answer) = api_call(&app, "request_kasm", &key, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let share_id: Option<String> =
        sqlx::query_scalar("SELECT share_id FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(share_id, None);

    let (_, kasms) = api_call(&app, "get_user_kasms", &key, json!({"user_id": hex(ann)})).await;
    let settings = &kasms["kasms"][0]["client_settings"];
    assert_eq!(settings["allow_kasm_sharing"], false);
    assert_eq!(settings["allow_kasm_clipboard_up"], false);
    assert_eq!(settings["allow_kasm_clipboard_down"], true);
    assert_eq!(settings["idle_disconnect"], 15);
    assert_eq!(settings["allow_kasm_delete"], true);

    // Allowed again: the link is made.
    set(&app, group, json!({"allow_kasm_sharing": true})).await;
    let (status, message) = ui(
        &app,
        &ann_http,
        "sharing/set",
        &[("session_id", &id), ("enabled", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{message}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn keepalives_extend_by_keepalive_expiration_up_to_the_session_time_limit(db: PgPool) {
    let app = spawn_app(db).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let image = insert_image(&app.db, "Desk").await;
    let young = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let old = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    sqlx::query(
        "UPDATE sessions SET created_date = now() - interval '1 hour' WHERE session_id = $1",
    )
    .bind(old)
    .execute(&app.db)
    .await
    .unwrap();
    let key = user_key(&app).await;
    let group = group_with(&app, "Long", &[ann], json!({"keepalive_expiration": 7200})).await;
    let left = |session_id: Uuid| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, f64>(
                "SELECT extract(epoch FROM expiration_date - now())::float8 FROM sessions WHERE session_id = $1",
            )
            .bind(session_id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let (status, answer) = api_call(&app, "keepalive", &key, json!({"kasm_id": hex(young)})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let seconds = left(young).await;
    assert!((7100.0..=7200.0).contains(&seconds), "{seconds}");

    // A 30-minute time limit: the young session's expiry comes back to 30 minutes after its
    // start; the hour-old one is past it and the reaper ends it.
    set(&app, group, json!({"session_time_limit": 1800})).await;
    api_call(&app, "keepalive", &key, json!({"kasm_id": hex(young)})).await;
    let seconds = left(young).await;
    assert!((1700.0..=1800.0).contains(&seconds), "{seconds}");
    api_call(&app, "keepalive", &key, json!({"kasm_id": hex(old)})).await;
    crate::docker_sessions::wait_for("the reaper to end the session", 30, || async {
        let status: String =
            sqlx::query_scalar("SELECT operational_status FROM sessions WHERE session_id = $1")
                .bind(old)
                .fetch_one(&app.db)
                .await
                .unwrap();
        (status == "deleted").then_some(())
    })
    .await;
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn group_memberships_through_the_developer_api(db: PgPool) {
    let app = spawn_app(db).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let key = api_key(&app, &["Groups Modify", "Users View"], false).await;
    let body = |group: Uuid| json!({"target_user": {"user_id": hex(ann)}, "target_group": {"group_id": hex(group)}});
    let (status, answer) = api_call(&app, "remove_user_group", &key, body(ALL_USERS)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error_message"]
        .as_str()
        .unwrap()
        .contains("All Users"));
    let admins = store::groups::ADMINISTRATORS;
    let (status, _) = api_call(&app, "add_user_group", &key, body(admins)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, user) = api_call(
        &app,
        "get_user",
        &key,
        json!({"target_user": {"user_id": hex(ann)}}),
    )
    .await;
    assert_eq!(
        user["user"]["groups"],
        json!([{"group_id": hex(admins), "name": "Administrators"}])
    );
    // Administrators' settings now apply to ann.
    set(&app, admins, json!({"max_kasms_per_user": 9})).await;
    let policy = store::group_access::policy_of(&app.db, ann).await.unwrap();
    assert_eq!(policy.number("max_kasms_per_user"), 9);
}
