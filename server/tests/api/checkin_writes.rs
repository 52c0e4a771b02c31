//! Check-ins whose content didn't change cost no write: an agent repeating itself leaves its
//! server row as it was (same row version) until its last recorded check-in is older than
//! half the offline threshold; a change (or coming back online) is written at once, and an
//! agent that stops is still marked offline.
use crate::agent_identity::{add_server, check_in, post_check_in};
use crate::support::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

/// The row's version (changes with every UPDATE) and status.
async fn row_version(app: &TestApp) -> (String, String) {
    sqlx::query_as("SELECT xmin::text, status FROM servers WHERE hostname = 'host-a'")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn accepted(app: &TestApp, credential: &str, report: &Value) {
    let response = post_check_in(app, Some(credential), report).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn age_last_check_in(app: &TestApp, seconds: i32) {
    sqlx::query(
        "UPDATE servers SET last_checkin = now() - make_interval(secs => $1) WHERE hostname = 'host-a'",
    )
    .bind(f64::from(seconds))
    .execute(&app.db)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn repeated_identical_check_ins_do_not_write(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (_, credential) = add_server(&app, &admin, "host-a").await;
    let mut report = check_in(
        "host-a",
        "http://host-a:7001",
        "secret-of-host-a-0123456789abcdef0123",
    );
    report["interval_secs"] = 5.into();
    accepted(&app, &credential, &report).await;
    let first = row_version(&app).await;
    assert_eq!(first.1, "online");

    for _ in 0..5 {
        accepted(&app, &credential, &report).await;
    }
    assert_eq!(
        row_version(&app).await,
        first,
        "an unchanged check-in wrote the row"
    );
    // Free disk moving by less than 5 % is no change either.
    report["disk_free"] = ((1_i64 << 30) + (1 << 24)).into();
    accepted(&app, &credential, &report).await;
    assert_eq!(row_version(&app).await, first);

    // What the agent reports changed: written at once.
    report["images_present"] = serde_json::json!(["berth/desktop:latest"]);
    accepted(&app, &credential, &report).await;
    let changed = row_version(&app).await;
    assert_ne!(changed, first);
    let present: Vec<String> =
        sqlx::query_scalar("SELECT images_present FROM servers WHERE hostname = 'host-a'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(present, ["berth/desktop:latest"]);

    // A recorded check-in younger than half the offline threshold (7.5 s of 15 s) is kept;
    // an older one is refreshed.
    age_last_check_in(&app, 6).await;
    let young = row_version(&app).await;
    accepted(&app, &credential, &report).await;
    assert_eq!(row_version(&app).await, young);
    age_last_check_in(&app, 8).await;
    let old = row_version(&app).await;
    accepted(&app, &credential, &report).await;
    assert_ne!(
        row_version(&app).await,
        old,
        "a stale last check-in was not refreshed"
    );
    let age: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM now() - last_checkin)::float8 FROM servers WHERE hostname = 'host-a'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(age < 2.0, "last check-in {age} s ago");

    // An agent silent for three intervals is offline; its next check-in, identical, brings it
    // back.
    berth::manager::checkin::mark_silent_agents_offline(&app.db)
        .await
        .unwrap();
    assert_eq!(row_version(&app).await.1, "online");
    age_last_check_in(&app, 16).await;
    berth::manager::checkin::mark_silent_agents_offline(&app.db)
        .await
        .unwrap();
    assert_eq!(row_version(&app).await.1, "offline");
    accepted(&app, &credential, &report).await;
    assert_eq!(row_version(&app).await.1, "online");
}
