//! `idle_disconnect` with a real session and a short limit (0.2 minutes: twelve seconds): the
//! owner's desktop stream stays open while their input flows, is closed once none came for
//! the limit, and the session page's status then says so while the keepalive is refused;
//! reconnecting (the owner's doing) counts as input again. A viewer's stream closes with the
//! owner's, whatever the viewer sends.
use crate::groups::group_with;
use crate::groups_clipboard::session_of_ann;
use crate::sharing::{desktop, join, share, signed_in};
use crate::support::TestApp;
use berth::rfb::Session;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// A PointerEvent: the mouse moved to (x, 20).
fn pointer(x: u16) -> Vec<u8> {
    let mut message = vec![5, 0];
    message.extend(x.to_be_bytes());
    message.extend(20u16.to_be_bytes());
    message
}

async fn status(app: &TestApp, client: &reqwest::Client, session_id: Uuid) -> Value {
    let response = app
        .call(
            client,
            "sessions/status",
            &[("session_id", &session_id.to_string())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn keepalive(app: &TestApp, client: &reqwest::Client, session_id: Uuid) -> StatusCode {
    app.call(
        client,
        "sessions/keepalive",
        &[("session_id", &session_id.to_string())],
    )
    .await
    .status()
}

/// Ends the test's session and its agent.
async fn over(app: &TestApp, agent: tokio::task::JoinHandle<()>, session_id: Uuid) {
    app.manager
        .destroy_session(session_id, "test over")
        .await
        .unwrap();
    agent.abort();
}

/// Moves the mouse every two seconds for `for_secs`, asserting the stream stays open.
async fn keep_moving(stream: &mut Session, for_secs: u16) {
    for step in 0..for_secs / 2 {
        stream.send_raw(pointer(10 + step)).await.unwrap();
        assert!(
            !stream.closed_within(Duration::from_secs(2)).await,
            "the stream was closed after {}s although input flowed",
            step * 2 + 2
        );
    }
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn idle_disconnect_closes_the_owners_stream_without_input_only(db: PgPool) {
    let (app, agent, ann, session_id, _) = session_of_ann(db).await;
    group_with(&app, "Quick idle", &[ann], json!({"idle_disconnect": 0.2})).await;
    let (cookie, client) = signed_in(&app, "ann").await;

    let mut stream = desktop(&app, session_id, &cookie).await.unwrap();
    // Input for twice the limit: open all along, and the page sees no reason to warn.
    keep_moving(&mut stream, 24).await;
    stream.send_raw(pointer(5)).await.unwrap();
    let active = status(&app, &client, session_id).await;
    let left = active["idle_in_secs"].as_i64().unwrap();
    assert!(
        left > active["idle_warn_secs"].as_i64().unwrap(),
        "{active}"
    );
    assert_eq!(keepalive(&app, &client, session_id).await, StatusCode::OK);

    // No input: still open well before the limit, closed soon after it.
    assert!(
        !stream.closed_within(Duration::from_secs(7)).await,
        "closed before the idle limit"
    );
    let warned = status(&app, &client, session_id).await;
    let left = warned["idle_in_secs"].as_i64().unwrap();
    assert!(
        left <= warned["idle_warn_secs"].as_i64().unwrap(),
        "the page would not warn {left}s before the disconnect: {warned}"
    );
    assert!(
        stream.closed_within(Duration::from_secs(12)).await,
        "the owner's stream stayed open without input past the idle limit"
    );

    // The page is told, and its keepalive no longer renews the session.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let idle = status(&app, &client, session_id).await;
    assert_eq!(idle["idle_in_secs"], json!(0), "{idle}");
    let refused = app
        .call(
            &client,
            "sessions/keepalive",
            &[("session_id", &session_id.to_string())],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = crate::support::message_of(&crate::support::error_json(refused).await);
    assert!(message.contains("idle limit"), "{message}");
    // The Developer API's keepalive is refused alike.
    let key = crate::support::api_key(&app, &["Sessions Modify"], false).await;
    let (api_status, api_answer) = crate::support::api_call(
        &app,
        "keepalive",
        &key,
        json!({"kasm_id": session_id.simple().to_string()}),
    )
    .await;
    assert_eq!(api_status, StatusCode::UNPROCESSABLE_ENTITY, "{api_answer}");

    // Reconnecting is input: the stream works and the keepalive is accepted again.
    let mut again = desktop(&app, session_id, &cookie).await.unwrap();
    again.send_raw(pointer(50)).await.unwrap();
    assert!(!again.closed_within(Duration::from_secs(1)).await);
    assert_eq!(keepalive(&app, &client, session_id).await, StatusCode::OK);
    let (api_status, _) = crate::support::api_call(
        &app,
        "keepalive",
        &key,
        json!({"kasm_id": session_id.simple().to_string()}),
    )
    .await;
    assert_eq!(api_status, StatusCode::OK);
    drop(again);
    over(&app, agent, session_id).await;
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn without_idle_disconnect_a_quiet_stream_stays_open(db: PgPool) {
    let (app, agent, _, session_id, _) = session_of_ann(db).await;
    let (cookie, client) = signed_in(&app, "ann").await;
    let mut stream = desktop(&app, session_id, &cookie).await.unwrap();
    assert!(!stream.closed_within(Duration::from_secs(15)).await);
    assert_eq!(
        status(&app, &client, session_id).await["idle_in_secs"],
        Value::Null
    );
    over(&app, agent, session_id).await;
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_viewers_stream_closes_when_the_owner_idles_out_whatever_the_viewer_sends(db: PgPool) {
    let (app, agent, ann, session_id, _) = session_of_ann(db).await;
    let vic = app.create_user("vic", "password-123", "user").await;
    group_with(&app, "Quick idle", &[ann], json!({"idle_disconnect": 0.2})).await;
    // The viewer's own groups don't idle: the owner's setting is what counts.
    group_with(&app, "Patient", &[vic], json!({"idle_disconnect": 0})).await;
    let (ann_cookie, ann_client) = signed_in(&app, "ann").await;
    let (vic_cookie, vic_client) = signed_in(&app, "vic").await;
    let share_id = share(&app, &ann_client, session_id).await;
    assert_eq!(join(&app, &vic_client, &share_id).await, StatusCode::OK);

    let mut owner = desktop(&app, session_id, &ann_cookie).await.unwrap();
    owner.send_raw(pointer(5)).await.unwrap();
    let mut viewer = desktop(&app, session_id, &vic_cookie).await.unwrap();
    // The viewer moves the mouse all along; that is not the owner's input. Within the
    // owner's limit (12 s from their last input) plus the record's lag, both streams close.
    let mut viewer_closed = false;
    for step in 0..12u16 {
        let _ = viewer.send_raw(pointer(100 + step)).await;
        if viewer.closed_within(Duration::from_secs(2)).await {
            viewer_closed = true;
            break;
        }
    }
    assert!(
        viewer_closed,
        "the viewer's stream stayed open 24 s after the owner's last input"
    );
    assert!(
        owner.closed_within(Duration::from_secs(5)).await,
        "the owner's stream stayed open without input"
    );
    over(&app, agent, session_id).await;
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn idle_disconnect_action_pauses_the_session_once_the_owner_idles_out(db: PgPool) {
    let (app, agent, ann, session_id, _) = session_of_ann(db).await;
    let settings = json!({"idle_disconnect": 0.2, "idle_disconnect_action": "pause"});
    group_with(&app, "Pause when idle", &[ann], settings).await;
    let (cookie, _) = signed_in(&app, "ann").await;
    let mut stream = desktop(&app, session_id, &cookie).await.unwrap();
    stream.send_raw(pointer(5)).await.unwrap();
    assert!(
        stream.closed_within(Duration::from_secs(20)).await,
        "the owner's stream stayed open without input past the idle limit"
    );
    let mut status = String::new();
    for _ in 0..40 {
        status =
            sqlx::query_scalar("SELECT operational_status FROM sessions WHERE session_id = $1")
                .bind(session_id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        if status == "paused" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, "paused");
    over(&app, agent, session_id).await;
}
