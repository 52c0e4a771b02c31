//! GET /metrics: Prometheus' text format, for a scraper with the metrics token or a signed-in
//! administrator only, with labels whose values stay bounded whatever clients send.
use crate::support::spawn_app_with_file;
use reqwest::{header, StatusCode};
use sqlx::PgPool;

/// The value of the sample of `name` whose labels include all of `labels`.
pub fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

fn token_file(token: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("berth-metrics-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn metrics_are_for_the_token_or_administrators_only(db: PgPool) {
    let token = "scraper-token-0123456789abcdef";
    let path = token_file(token);
    let app = spawn_app_with_file(db, &format!("metrics_token_file = {:?}\n", path)).await;
    let url = app.url("/metrics");
    let client = reqwest::Client::new();

    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(anonymous.text().await.unwrap().contains("metrics token"));

    let wrong = client
        .get(&url)
        .bearer_auth("scraper-token-0123456789abcdeX")
        .send()
        .await;
    assert_eq!(wrong.unwrap().status(), StatusCode::FORBIDDEN);

    let (user, _) = app.signed_in("metrics-user", "user").await;
    let refused = user.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!refused.text().await.unwrap().contains("berth_"));

    let scraped = client.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let body = scraped.text().await.unwrap();
    assert!(
        body.contains("# TYPE berth_http_requests_total counter"),
        "{body}"
    );
    // The refusals above were counted, by route template and status.
    assert!(
        sample(
            &body,
            "berth_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        )
        .is_some_and(|count| count >= 1.0),
        "{body}"
    );
    assert!(sample(&body, "berth_db_pool_connections", &[("state", "idle")]).is_some());
    assert!(sample(&body, "berth_agents_online", &[]).is_some());

    let (admin, _) = app.signed_in("metrics-admin", "admin").await;
    assert_eq!(
        admin.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let _ = std::fs::remove_file(path);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn without_a_token_file_a_bearer_token_opens_nothing(db: PgPool) {
    let app = crate::support::spawn_app(db).await;
    let response = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth("any-token-at-all-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn made_up_methods_and_paths_do_not_add_label_values(db: PgPool) {
    let app = crate::support::spawn_app(db).await;
    let client = reqwest::Client::new();
    for n in 0..20 {
        let method = reqwest::Method::from_bytes(format!("METHOD{n}").as_bytes()).unwrap();
        let _ = client
            .request(method, app.url(&format!("/no/such/path/{n}")))
            .send()
            .await
            .unwrap();
    }
    let (admin, _) = app.signed_in("metrics-admin", "admin").await;
    let body = admin
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !body.contains("METHOD1"),
        "a client's method became a label value"
    );
    assert!(
        !body.contains("/no/such/path"),
        "a raw path became a label value"
    );
    assert!(
        sample(&body, "berth_http_requests_total", &[("method", "other")])
            .is_some_and(|count| count >= 20.0),
        "{body}"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admin_metrics_show_sessions_and_the_last_hours_launches(db: PgPool) {
    use crate::support::{insert_image, insert_session};
    let app = crate::support::spawn_app(db.clone()).await;
    let (user, user_id) = app.signed_in("metrics-user", "user").await;
    app.assert_admin_only(&user, &[("admin/metrics_overview", vec![])])
        .await;
    let image_id = insert_image(&db, "Charted").await;
    for status in ["running", "running", "paused", "deleted"] {
        insert_session(&db, user_id, image_id, None, status, 1.0, 1 << 30).await;
    }
    // Two of them streamed, 2 and 4 seconds after they were requested; the deleted one never did.
    sqlx::query(
        "UPDATE sessions SET start_date = created_date + make_interval(secs => 2 * row_number)
         FROM (SELECT session_id AS id, row_number() OVER (ORDER BY session_id) FROM sessions WHERE operational_status = 'running') numbered
         WHERE session_id = numbered.id",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("UPDATE sessions SET start_date = NULL WHERE operational_status <> 'running'")
        .execute(&db)
        .await
        .unwrap();

    let (admin, _) = app.signed_in("metrics-admin", "admin").await;
    let response = app.call(&admin, "admin/metrics_overview", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let overview: app::model::MetricsOverview = response.json().await.unwrap();
    assert_eq!(overview.count("running"), 2);
    assert_eq!(overview.count("paused"), 1);
    assert_eq!(
        overview.count("deleted"),
        0,
        "ended sessions are not counted"
    );
    assert_eq!(overview.launches.len(), 12);
    assert_eq!(overview.launches_last_hour(), 4);
    assert_eq!(overview.not_started_last_hour(), 1);
    let newest = overview.launches.last().unwrap();
    assert!(newest.minutes_ago < 5, "{newest:?}");
    assert_eq!(newest.median_seconds, Some(3.0));
}
