//! `get_kasm_status` for a starting session holds its answer until the session's status
//! changes (up to half a second), so an integration that polls in a tight loop neither floods
//! Berth while the container starts nor learns of the start any later.
use crate::support::{api_call, api_key, insert_image, insert_session, spawn_quiet_app};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use tokio::time::Instant;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_status_poll_of_a_starting_session_answers_with_its_start(db: PgPool) {
    let app = spawn_quiet_app(db).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let image = insert_image(&app.db, "Desktop").await;
    let session = insert_session(&app.db, ann, image, None, "starting", 1.0, 1 << 30).await;
    let key = api_key(&app, &["User", "Users Auth Session"], false).await;
    let body =
        json!({"user_id": ann.simple().to_string(), "kasm_id": session.simple().to_string()});

    // The key's first use verifies its secret (slow by design): not part of what is timed.
    let running = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let (status, reply) = api_call(
        &app,
        "get_kasm_status",
        &key,
        json!({"user_id": ann.simple().to_string(), "kasm_id": running.simple().to_string()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Nothing changes: the answer says "starting", after waiting for a change.
    let asked = Instant::now();
    let (status, reply) = api_call(&app, "get_kasm_status", &key, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["operational_status"], "starting", "{reply}");
    assert!(
        asked.elapsed() >= Duration::from_millis(450),
        "answered after {:?} without waiting for a change",
        asked.elapsed()
    );

    // The session starts while a poll waits: that poll answers with the running session.
    let start = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        sqlx::query("UPDATE sessions SET operational_status = 'running' WHERE session_id = $1")
            .bind(session)
            .execute(&app.db)
            .await
            .unwrap();
    };
    let ((status, reply), ()) =
        tokio::join!(api_call(&app, "get_kasm_status", &key, body.clone()), start);
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["kasm"]["operational_status"], "running", "{reply}");
    assert!(reply["kasm_url"].is_string(), "{reply}");
}
