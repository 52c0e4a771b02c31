//! The health endpoints: /api/__healthcheck and /readyz answer 200 while PostgreSQL and Redis
//! answer, and readiness names the dependency that stopped.
use crate::support::{spawn_app, spawn_app_with_redis, PrivateRedis};
use reqwest::StatusCode;
use sqlx::PgPool;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn healthcheck_and_readiness_answer_200_when_everything_is_up(db: PgPool) {
    let app = spawn_app(db).await;
    let health = reqwest::get(app.url("/api/__healthcheck")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["postgres"], "ok");
    assert_eq!(body["redis"], "ok");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn readiness_names_redis_when_it_stops_answering(db: PgPool) {
    let mut redis = PrivateRedis::start().await;
    let app = spawn_app_with_redis(db, &redis.url).await;
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        StatusCode::OK
    );

    redis.stop();
    let response = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["postgres"], "ok");
    assert!(
        body["redis"].as_str().unwrap().starts_with("unavailable"),
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("redis"), "{body}");
    // Liveness is unaffected.
    assert_eq!(
        reqwest::get(app.url("/api/__healthcheck"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
