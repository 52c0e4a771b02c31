//! Check-ins whose content didn't change cost no write: an agent repeating itself leaves its
//! server row as it was (same row version) however long ago it was written, its check-ins'
//! time kept in Redis; a change (or coming back online) is written at once. An agent that
//! stops is still marked offline once neither its row nor Redis has seen it for three
//! intervals, but not by a Redis that lost its keys until it has kept them that long; while
//! Redis is down, check-ins are kept on the row again.
use crate::agent_identity::{add_server, check_in, post_check_in};
use crate::support::{spawn_app, spawn_app_with_redis, PrivateRedis, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

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

async fn row_age(app: &TestApp) -> f64 {
    sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM now() - last_checkin)::float8 FROM servers WHERE hostname = 'host-a'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

async fn mark_silent(app: &TestApp) {
    berth::manager::checkin::mark_silent_agents_offline(&app.db, app.manager.presence())
        .await
        .unwrap();
}

async fn redis(url: &str) -> redis::aio::ConnectionManager {
    berth::startup::connect_redis(url).await.unwrap()
}

/// Redis forgets the agent's check-ins (as when it stops checking in: the key expires).
async fn forget_check_ins(app: &TestApp, server_id: Uuid) {
    let key = store::presence::key(&app.redis_prefix, server_id);
    let mut redis = redis(&crate::support::redis_url()).await;
    let _: i64 = redis::cmd("DEL")
        .arg(key)
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// Redis has kept check-ins since `seconds_ago` (None: the marker is gone, as after a restart
/// that emptied Redis).
async fn tracking_since(app: &TestApp, seconds_ago: Option<i64>) {
    let key = store::presence::tracking_key(&app.redis_prefix);
    let mut redis = redis(&crate::support::redis_url()).await;
    let command = match seconds_ago {
        Some(ago) => {
            let mut set = redis::cmd("SET");
            set.arg(&key)
                .arg(chrono::Utc::now().timestamp_millis() - ago * 1000);
            set
        }
        None => {
            let mut del = redis::cmd("DEL");
            del.arg(&key);
            del
        }
    };
    let _: redis::Value = command.query_async(&mut redis).await.unwrap();
}

/// An agent `host-a` checking in every 5 s: its credential and report.
async fn agent(app: &TestApp) -> (Uuid, String, Value) {
    let (admin, _) = app.signed_in("root", "admin").await;
    let (server_id, credential) = add_server(app, &admin, "host-a").await;
    let mut report = check_in(
        "host-a",
        "http://host-a:7001",
        "secret-of-host-a-0123456789abcdef0123",
    );
    report["interval_secs"] = 5.into();
    (server_id.parse().unwrap(), credential, report)
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn repeated_identical_check_ins_do_not_write(db: PgPool) {
    let app = spawn_app(db).await;
    let (_, credential, mut report) = agent(&app).await;
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

    // However old the row's last check-in, an unchanged one leaves it alone: its time is in
    // Redis, where the admin's list of servers reads it.
    age_last_check_in(&app, 600).await;
    let old = row_version(&app).await;
    accepted(&app, &credential, &report).await;
    assert_eq!(row_version(&app).await, old, "a stale row was rewritten");
    let last = crate::serve::last_check_in(&app.db, &app.redis_prefix, Some("host-a")).await;
    let ago = chrono::Utc::now() - last.expect("a last check-in");
    assert!(ago.num_seconds() < 3, "last check-in {ago} ago");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_agent_is_offline_once_neither_its_row_nor_redis_saw_it(db: PgPool) {
    let app = spawn_app(db).await;
    let (server_id, credential, report) = agent(&app).await;
    accepted(&app, &credential, &report).await;
    tracking_since(&app, Some(3600)).await;

    // The row is 16 s old (past 3 × 5 s) but Redis saw the agent just now: online.
    age_last_check_in(&app, 16).await;
    mark_silent(&app).await;
    assert_eq!(row_version(&app).await.1, "online");

    // Redis's record expired too: offline.
    forget_check_ins(&app, server_id).await;
    mark_silent(&app).await;
    assert_eq!(row_version(&app).await.1, "offline");

    // Its next check-in, identical, brings it back, written on the row.
    accepted(&app, &credential, &report).await;
    assert_eq!(row_version(&app).await.1, "online");
    assert!(row_age(&app).await < 2.0);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_emptied_redis_marks_nobody_offline_until_it_kept_check_ins_for_the_threshold(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let (server_id, credential, report) = agent(&app).await;
    accepted(&app, &credential, &report).await;
    age_last_check_in(&app, 16).await;
    // Redis restarted empty: neither the agent's record nor the tracking marker.
    forget_check_ins(&app, server_id).await;
    tracking_since(&app, None).await;
    mark_silent(&app).await;
    assert_eq!(
        row_version(&app).await.1,
        "online",
        "marked offline by a Redis that knew nobody yet"
    );
    // Fifteen seconds later (the threshold), still not seen: offline.
    tracking_since(&app, Some(15)).await;
    mark_silent(&app).await;
    assert_eq!(row_version(&app).await.1, "offline");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn while_redis_is_down_check_ins_are_kept_on_the_row(db: PgPool) {
    let mut private = PrivateRedis::start().await;
    let app = spawn_app_with_redis(db, &private.url).await;
    let (_, credential, report) = agent(&app).await;
    accepted(&app, &credential, &report).await;

    private.stop();
    // Redis can't keep this check-in: the stale row is refreshed instead.
    age_last_check_in(&app, 8).await;
    accepted(&app, &credential, &report).await;
    assert!(row_age(&app).await < 2.0, "the row was not refreshed");
    // A row younger than half the threshold (7.5 s) is left alone, as without Redis.
    age_last_check_in(&app, 3).await;
    let young = row_version(&app).await;
    accepted(&app, &credential, &report).await;
    assert_eq!(row_version(&app).await, young);

    // The outage has just begun: a row that looks silent is not trusted yet (the agent's
    // check-ins may have gone to Redis until now).
    age_last_check_in(&app, 16).await;
    mark_silent(&app).await;
    assert_eq!(row_version(&app).await.1, "online");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_interval_out_of_range_is_refused_naming_it(db: PgPool) {
    let app = spawn_app(db).await;
    let (_, credential, mut report) = agent(&app).await;
    for interval in [0_u64, 3601, 4_000_000_000] {
        report["interval_secs"] = interval.into();
        let response = post_check_in(&app, Some(&credential), &report).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{interval}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("interval_secs"),
            "{body}"
        );
    }
    report["interval_secs"] = 3600.into();
    accepted(&app, &credential, &report).await;
}
