//! The health endpoints: /api/__healthcheck and /readyz answer 200 while PostgreSQL and Redis
//! answer, and readiness names the dependency that stopped.
use crate::support::{spawn_app, spawn_app_with_redis};
use reqwest::StatusCode;
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

/// A private redis-server, so the test can stop it.
fn start_redis(port: u16) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn readiness_names_redis_when_it_stops_answering(db: PgPool) {
    let port = free_port();
    let mut redis = start_redis(port);
    let url = format!("redis://127.0.0.1:{port}");
    let mut connected = None;
    for _ in 0..50 {
        if let Ok(client) = redis::Client::open(url.as_str()) {
            if client.get_multiplexed_async_connection().await.is_ok() {
                connected = Some(());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    connected.expect("private redis did not start");
    let app = spawn_app_with_redis(db, &url).await;
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        StatusCode::OK
    );

    redis.kill().unwrap();
    redis.wait().unwrap();
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
