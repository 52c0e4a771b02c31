//! API keys cannot be stretched past what they were granted: acting on an administrator needs
//! "Users Modify Admin", and a read-only key never gets a sign-in link.
use crate::support::{api_call, api_key, insert_image, insert_session, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn id(uuid: Uuid) -> String {
    uuid.simple().to_string()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn keys_act_on_administrators_only_when_granted(db: PgPool) {
    let app = spawn_app(db).await;
    let boss = app.create_user("boss", "password-123", "admin").await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let users = api_key(
        &app,
        &["Users Modify", "Users Delete", "Users Auth Session", "User"],
        false,
    )
    .await;

    // "Users Modify" sets an ordinary user's password, not an administrator's.
    let new_password =
        |user: Uuid| json!({"target_user": {"user_id": id(user), "password": "taken-over-123"}});
    let (status, _) = api_call(&app, "update_user", &users, new_password(ann)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, reply) = api_call(&app, "update_user", &users, new_password(boss)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(reply["error_message"]
        .as_str()
        .unwrap()
        .contains("Users Modify Admin"));
    let client = app.client();
    assert_eq!(
        app.login(&client, "boss", "taken-over-123").await.status(),
        StatusCode::BAD_REQUEST,
        "the administrator's password was changed"
    );

    // Nor deletes, signs out, or signs in as one.
    let target = json!({"target_user": {"user_id": id(boss)}});
    for endpoint in ["delete_user", "logout_user"] {
        let (status, reply) = api_call(&app, endpoint, &users, target.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {reply}");
    }
    let image = insert_image(&app.db, "Desktop").await;
    let session = insert_session(&app.db, boss, image, None, "running", 1.0, 1 << 30).await;
    let as_boss = json!({"user_id": id(boss), "kasm_id": id(session), "image_id": id(image)});
    for endpoint in ["request_kasm", "get_kasm_status", "join_kasm"] {
        let (status, reply) = api_call(&app, endpoint, &users, as_boss.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {reply}");
        assert!(reply.get("kasm_url").is_none());
    }
    let still_there: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)")
            .bind(boss)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(still_there);

    // Granted "Users Modify Admin", the same calls work.
    let admins = api_key(
        &app,
        &[
            "Users Modify",
            "Users Modify Admin",
            "User",
            "Users Auth Session",
        ],
        false,
    )
    .await;
    let (status, reply) = api_call(&app, "update_user", &admins, new_password(boss)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, reply) = api_call(&app, "get_kasm_status", &admins, as_boss).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(reply["kasm_url"].is_string());
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_read_only_key_never_gets_a_sign_in_link(db: PgPool) {
    let prefix = format!("berth-test:{}:", Uuid::new_v4());
    let app =
        crate::support::spawn_app_with_prefix(db, &crate::support::redis_url(), &prefix).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let image = insert_image(&app.db, "Desktop").await;
    let session = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let body = json!({"user_id": id(ann), "kasm_id": id(session)});

    let reader = api_key(&app, &["User", "Users Auth Session"], true).await;
    let (status, reply) = api_call(&app, "get_kasm_status", &reader, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["kasm"]["operational_status"], "running");
    assert!(reply.get("kasm_url").is_none(), "{reply}");
    assert!(reply.get("session_token").is_none(), "{reply}");
    let mut redis = redis::Client::open(crate::support::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let links: Vec<String> = redis::AsyncCommands::keys(&mut redis, format!("{prefix}connect:*"))
        .await
        .unwrap();
    assert!(links.is_empty(), "a sign-in token was issued: {links:?}");

    let writer = api_key(&app, &["User", "Users Auth Session"], false).await;
    let (_, reply) = api_call(&app, "get_kasm_status", &writer, body).await;
    assert!(reply["kasm_url"].is_string(), "{reply}");
}
