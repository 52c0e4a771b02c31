//! Reads that don't write: polling `get_kasm_status` neither stores a token per call in the
//! database nor writes an audit row per call (reads are counted per key, endpoint, outcome and
//! minute in one row), while its kasm_url still signs a browser in once.
use crate::support::{
    api_call, api_key, insert_image, insert_session, redis_url, spawn_app_with_prefix,
};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

const CALLS: i64 = 25;

/// The audit rows of `action` and the calls they count, once the counts stopped moving.
async fn audited(db: &PgPool, action: &str, expected_calls: i64) -> (i64, i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (rows, calls): (i64, Option<i64>) =
            sqlx::query_as("SELECT count(*), sum(calls)::int8 FROM audit_log WHERE action = $1")
                .bind(action)
                .fetch_one(db)
                .await
                .unwrap();
        let calls = calls.unwrap_or(0);
        if calls >= expected_calls || tokio::time::Instant::now() > deadline {
            return (rows, calls);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn polling_get_kasm_status_writes_no_token_rows_and_one_audit_row(db: PgPool) {
    let prefix = format!("berth-test:{}:", uuid::Uuid::new_v4());
    let app = spawn_app_with_prefix(db, &redis_url(), &prefix).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let image = insert_image(&app.db, "Desktop").await;
    let session = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let key = api_key(&app, &["User", "Users Auth Session"], false).await;
    let body =
        json!({"user_id": ann.simple().to_string(), "kasm_id": session.simple().to_string()});
    let tables_before: Vec<String> = user_tables(&app.db).await;

    let mut links = Vec::new();
    let key_version = || async {
        sqlx::query_scalar::<_, String>("SELECT xmin::text FROM api_keys")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let mut first_version = None;
    for _ in 0..CALLS {
        let (status, reply) = api_call(&app, "get_kasm_status", &key, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        links.push(reply["kasm_url"].as_str().expect("a kasm_url").to_owned());
        if first_version.is_none() {
            first_version = Some(key_version().await);
        }
    }
    // The key's "last used" is noted once a minute, not on every call.
    assert_eq!(Some(key_version().await), first_version);

    // No table keeps tokens, and Redis holds one link for the user and session, not one a call.
    assert_eq!(user_tables(&app.db).await, tables_before);
    assert!(!tables_before.contains(&"connect_tokens".to_owned()));
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis.keys(format!("{prefix}connect:*")).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");

    // The calls are audited: one row counting them all.
    let (rows, calls) = audited(&app.db, "api:get_kasm_status", CALLS).await;
    assert_eq!((rows, calls), (1, CALLS));

    // The newest link signs in, once; an older one does not.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let open = |path: &str| browser.get(app.url(path)).send();
    assert_eq!(
        open(&links[0]).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let last = links.last().unwrap();
    assert_eq!(open(last).await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(open(last).await.unwrap().status(), StatusCode::FORBIDDEN);
    let keys: Vec<String> = redis.keys(format!("{prefix}connect:*")).await.unwrap();
    assert!(keys.is_empty(), "a used link was kept: {keys:?}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn changes_stay_one_audit_row_each(db: PgPool) {
    let app = spawn_app_with_prefix(
        db,
        &redis_url(),
        &format!("berth-test:{}:", uuid::Uuid::new_v4()),
    )
    .await;
    app.create_user("root", "password-123", "admin").await;
    let key = api_key(&app, &["Users Create", "Users View"], false).await;
    for n in 0..3 {
        let user =
            json!({"target_user": {"username": format!("u{n}"), "password": "password-123"}});
        let (status, reply) = api_call(&app, "create_user", &key, user).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let (status, _) = api_call(&app, "get_users", &key, json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (rows, calls) = audited(&app.db, "api:create_user", 3).await;
    assert_eq!((rows, calls), (3, 3));
    let (rows, calls) = audited(&app.db, "api:get_users", 3).await;
    assert_eq!((rows, calls), (1, 3));
}

async fn user_tables(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT relname::text FROM pg_stat_user_tables ORDER BY relname")
        .fetch_all(db)
        .await
        .unwrap()
}
