//! What the control plane's hot paths cost the database (issue #16, bench/agents): an agent's
//! unchanged check-in is one statement that neither writes nor locks a row, yet it still sees
//! a newly registered image at once; polling `get_kasm_status` costs three statements a
//! call (key with its target's role, the session, the owner's settings).
use crate::agent_identity::{add_server, check_in, post_check_in};
use crate::support::{api_call, api_key, insert_image, insert_session, spawn_quiet_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;

/// Transactions PostgreSQL counted in this test's database: every statement the app runs
/// outside a transaction is one.
async fn transactions(db: &PgPool) -> i64 {
    // Backends report their counts within a second of going idle.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::int8 FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// (xmin, xmax) of a row: xmin changes with every update, xmax with every lock too.
async fn row_version(db: &PgPool, query: &str) -> (String, String) {
    sqlx::query_as(query).fetch_one(db).await.unwrap()
}

async fn versions(app: &TestApp) -> [(String, String); 2] {
    [
        row_version(
            &app.db,
            "SELECT xmin::text, xmax::text FROM servers WHERE hostname = 'host-a'",
        )
        .await,
        row_version(
            &app.db,
            "SELECT r.xmin::text, r.xmax::text FROM agent_volume_roots r JOIN servers s USING (server_id) WHERE s.hostname = 'host-a'",
        )
        .await,
    ]
}

async fn accepted(app: &TestApp, credential: &str, report: &Value) -> Value {
    let response = post_check_in(app, Some(credential), report).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

const CHECK_INS: i64 = 40;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_unchanged_check_in_is_one_statement_that_writes_and_locks_nothing(db: PgPool) {
    let app = spawn_quiet_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (_, credential) = add_server(&app, &admin, "host-a").await;
    let mut report = check_in(
        "host-a",
        "http://host-a:7001",
        "secret-of-host-a-0123456789abcdef0123",
    );
    report["interval_secs"] = 5.into();
    report["volume_roots"] = json!(["/srv/berth-volumes"]);
    let first = accepted(&app, &credential, &report).await;
    assert_eq!(first["wanted_images"], json!([]));
    accepted(&app, &credential, &report).await;
    let before = versions(&app).await;

    let counted = transactions(&app.db).await;
    for _ in 0..CHECK_INS {
        accepted(&app, &credential, &report).await;
    }
    // One statement each, and a few of the app's own periodic reads meanwhile (seven before:
    // 280).
    let spent = transactions(&app.db).await - counted - 1;
    assert!(
        spent <= CHECK_INS * 2,
        "{CHECK_INS} unchanged check-ins ran {spent} statements"
    );
    assert_eq!(
        versions(&app).await,
        before,
        "an unchanged check-in wrote or locked its server's rows"
    );

    // An image registered meanwhile (here, or by another replica) is wanted at the very next
    // check-in; disabled, it is not.
    let image = insert_image(&app.db, "Desktop").await;
    let reply = accepted(&app, &credential, &report).await;
    assert_eq!(reply["wanted_images"], json!(["berth/desktop:latest"]));
    sqlx::query("UPDATE images SET enabled = false WHERE image_id = $1")
        .bind(image)
        .execute(&app.db)
        .await
        .unwrap();
    let reply = accepted(&app, &credential, &report).await;
    assert_eq!(reply["wanted_images"], json!([]));

    // Its sessions are known to it; a deleted one is not.
    let ann = app.create_user("ann", "password-123", "user").await;
    let server_id: uuid::Uuid =
        sqlx::query_scalar("SELECT server_id FROM servers WHERE hostname = 'host-a'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let live = insert_session(
        &app.db,
        ann,
        image,
        Some(server_id),
        "starting",
        1.0,
        1 << 30,
    )
    .await;
    let gone = insert_session(
        &app.db,
        ann,
        image,
        Some(server_id),
        "deleted",
        1.0,
        1 << 30,
    )
    .await;
    let reply = accepted(&app, &credential, &report).await;
    let known = reply["known_sessions"].as_array().unwrap();
    assert!(known.contains(&json!(live)), "{reply}");
    assert!(!known.contains(&json!(gone)), "{reply}");
}

const CALLS: i64 = 40;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn polling_get_kasm_status_costs_three_statements_a_call(db: PgPool) {
    let app = spawn_quiet_app(db).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let image = insert_image(&app.db, "Desktop").await;
    let session = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let key = api_key(&app, &["User", "Users Auth Session"], false).await;
    let body =
        json!({"user_id": ann.simple().to_string(), "kasm_id": session.simple().to_string()});
    let (status, reply) = api_call(&app, "get_kasm_status", &key, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let counted = transactions(&app.db).await;
    for _ in 0..CALLS {
        let (status, reply) = api_call(&app, "get_kasm_status", &key, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert!(reply["kasm_url"].is_string(), "{reply}");
    }
    // Three statements each, and a few of the app's own periodic reads and the audit's flush
    // meanwhile (six before: 240).
    let spent = transactions(&app.db).await - counted - 1;
    assert!(
        spent <= CALLS * 4,
        "{CALLS} get_kasm_status calls ran {spent} statements"
    );

    // The key's target is still checked: this key may not act on an administrator.
    let boss = app.create_user("boss", "password-123", "admin").await;
    let boss_session = insert_session(&app.db, boss, image, None, "running", 1.0, 1 << 30).await;
    let (status, reply) = api_call(
        &app,
        "get_kasm_status",
        &key,
        json!({"user_id": boss.simple().to_string(), "kasm_id": boss_session.simple().to_string()}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
}
