//! Admin → Audit: the audit log filtered by actor, action, target, time and outcome, paged,
//! for administrators only; its retention setting, and the purge that keeps to it.
use crate::support::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

/// Entries of every kind: `old` ones by ann 60 days old (younger than the default retention,
/// so that the manager's own purge leaves them), a denied one and an error.
async fn seed(db: &PgPool, ann: uuid::Uuid, old: i64) {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, action, target, outcome)
         SELECT now() - make_interval(days => 60) - make_interval(secs => n), $1, 'old_action', 'thing-' || n, 'ok'
         FROM generate_series(1, $2) AS n",
    )
    .bind(ann)
    .bind(old)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (actor_user_id, action, target, outcome) VALUES
             ($1, 'delete_image', 'img-1', 'denied'), ($1, 'save_image', 'img-2', 'error')",
    )
    .bind(ann)
    .execute(db)
    .await
    .unwrap();
}

async fn page(
    app: &crate::support::TestApp,
    admin: &reqwest::Client,
    filter: &[(&str, &str)],
) -> (StatusCode, Value) {
    let form: Vec<(String, String)> = [
        "actor", "action", "target", "from", "until", "outcome", "before",
    ]
    .iter()
    .map(|name| {
        let value = filter
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v);
        (name.to_string(), value.to_owned())
    })
    .collect();
    let response = admin
        .post(app.url("/rpc/admin/audit_log"))
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn actions(page: &Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["action"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_audit_log_is_filtered_and_paged_for_administrators(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (user, ann) = app.signed_in("ann", "user").await;
    seed(&app.db, ann, 60).await;

    let (status, _) = page(&app, &user, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Outcome, action, target, actor.
    let (status, denied) = page(&app, &admin, &[("outcome", "denied")]).await;
    assert_eq!(status, StatusCode::OK, "{denied}");
    assert_eq!(actions(&denied), ["delete_image"]);
    let (_, saved) = page(&app, &admin, &[("action", "save_"), ("target", "img-2")]).await;
    assert_eq!(actions(&saved), ["save_image"]);
    assert_eq!(saved["rows"][0]["actor"], "ann");
    assert_eq!(saved["rows"][0]["outcome"], "error");
    let (_, by_root) = page(&app, &admin, &[("actor", "root"), ("action", "old_action")]).await;
    assert_eq!(actions(&by_root), Vec::<String>::new());

    // A time range: only the old entries before a day 50 days ago.
    let cut = (chrono::Utc::now() - chrono::Duration::days(50))
        .format("%Y-%m-%d")
        .to_string();
    let (_, old) = page(&app, &admin, &[("until", &cut), ("actor", "ann")]).await;
    assert!(actions(&old).iter().all(|a| a == "old_action"));
    // Paged: 50 at most, then the rest from the next page's bound, none twice.
    assert_eq!(old["rows"].as_array().unwrap().len(), 50);
    let before = old["next_before"].as_i64().expect("an older page");
    let (_, rest) = page(
        &app,
        &admin,
        &[("until", &cut), ("before", &before.to_string())],
    )
    .await;
    assert_eq!(rest["rows"].as_array().unwrap().len(), 10);
    assert!(rest["next_before"].is_null());
    let first: Vec<i64> = old["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["audit_id"].as_i64().unwrap())
        .collect();
    assert!(rest["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !first.contains(&r["audit_id"].as_i64().unwrap())));
    let (_, recent) = page(&app, &admin, &[("from", &cut)]).await;
    assert!(!actions(&recent).contains(&"old_action".to_owned()));

    // Nonsense is refused, naming the field.
    let (status, error) = page(&app, &admin, &[("from", "last tuesday")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error.to_string().contains("from"), "{error}");
    let (status, _) = page(&app, &admin, &[("outcome", "maybe")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_purge_keeps_to_the_retention_setting(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (_, ann) = app.signed_in("ann", "user").await;
    let (_, default) = page(&app, &admin, &[]).await;
    assert_eq!(default["retention_days"], 90);
    let set = |days: &str| {
        admin
            .post(app.url("/rpc/admin/set_audit_retention"))
            .header("accept", "application/json")
            .form(&[("days", days)])
            .send()
    };
    assert_eq!(set("0").await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(set("many").await.unwrap().status(), StatusCode::BAD_REQUEST);
    // Kept for 200 days: the 60-day-old entries stay.
    assert_eq!(set("200").await.unwrap().status(), StatusCode::OK);
    seed(&app.db, ann, 12_000).await;
    assert_eq!(app::backend::audit::purge(&app.db).await.unwrap(), 0);
    // Kept for 30: they go (in several batches), the recent ones stay.
    assert_eq!(set("30").await.unwrap().status(), StatusCode::OK);
    assert_eq!(app::backend::audit::purge(&app.db).await.unwrap(), 12_000);
    let left: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY audit_id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(left.iter().all(|a| a != "old_action"), "{left:?}");
    assert!(left.contains(&"delete_image".to_owned()));
    assert!(left.contains(&"set_audit_retention".to_owned()));
    let (_, page_now) = page(&app, &admin, &[]).await;
    assert_eq!(page_now["retention_days"], 30);
}
