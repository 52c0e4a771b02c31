//! The listener's limits against the real server on 127.0.0.1:0: a client dribbling its
//! headers is cut after the header timeout, an idle kept-alive connection after the idle
//! timeout, connections past the cap wait until one closes, and WebSockets outlive the idle
//! timeout.
use crate::support::{insert_session, spawn_app_with_limits, TestApp};
use berth::connections::ConnectionLimits;
use futures_util::{SinkExt, StreamExt};
use sqlx::PgPool;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

fn limits(header_secs: u64, idle_secs: u64, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(header_secs),
        idle_timeout: Duration::from_secs(idle_secs),
        max_connections,
    }
}

const HEALTHCHECK: &[u8] = b"GET /api/__healthcheck HTTP/1.1\r\nHost: berth\r\n\r\n";

/// Reads until the server closes the connection or `within` passes; whatever it sent, and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&received).into_owned(), true)
            }
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Reads until a whole response head has come, or `within` passes.
async fn response_head(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !received.windows(4).any(|window| window == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => received.extend_from_slice(&buffer[..read]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&received).into_owned())
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_client_dribbling_its_headers_is_cut_after_the_header_timeout(db: PgPool) {
    let app = spawn_app_with_limits(db, limits(2, 30, 64)).await;
    let mut slow = connect(&app).await;
    let started = Instant::now();
    slow.write_all(b"GET /api/__healthcheck HTTP/1.1\r\n")
        .await
        .unwrap();
    // One more header byte a second, never finishing (slowloris).
    let mut closed = false;
    for _ in 0..8 {
        if slow.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let (_, ended) = read_until_closed(&mut slow, Duration::from_secs(1)).await;
        if ended {
            closed = true;
            break;
        }
    }
    let after = started.elapsed();
    assert!(closed, "still connected after {after:?}");
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(5),
        "cut after {after:?}, the header timeout is 2 s"
    );

    // A client that sends its headers at once is served.
    let mut prompt = connect(&app).await;
    prompt.write_all(HEALTHCHECK).await.unwrap();
    let head = response_head(&mut prompt, Duration::from_secs(5)).await;
    assert!(head.is_some_and(|head| head.starts_with("HTTP/1.1 200")));
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(db: PgPool) {
    let app = spawn_app_with_limits(db, limits(30, 2, 64)).await;
    let mut client = connect(&app).await;
    client.write_all(HEALTHCHECK).await.unwrap();
    let head = response_head(&mut client, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut client, Duration::from_secs(6)).await;
    let idle = answered.elapsed();
    assert!(closed, "the idle connection stayed open for {idle:?}");
    assert!(
        idle >= Duration::from_millis(1500) && idle < Duration::from_secs(5),
        "closed after {idle:?} idle, the idle timeout is 2 s"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn connections_past_the_cap_wait_until_one_closes(db: PgPool) {
    let app = spawn_app_with_limits(db, limits(30, 30, 2)).await;
    // Two kept-alive connections take both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = connect(&app).await;
        client.write_all(HEALTHCHECK).await.unwrap();
        assert!(response_head(&mut client, Duration::from_secs(5))
            .await
            .is_some());
        held.push(client);
    }
    // A third one is not served while they stay open...
    let mut third = connect(&app).await;
    third.write_all(HEALTHCHECK).await.unwrap();
    assert_eq!(
        response_head(&mut third, Duration::from_secs(1)).await,
        None,
        "a third connection was served past the cap of two"
    );
    // ...and is, as soon as one of them closes.
    drop(held.pop());
    let head = response_head(&mut third, Duration::from_secs(5))
        .await
        .expect("the waiting connection is served once a slot frees");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_web_socket_outlives_the_idle_timeout(db: PgPool) {
    let app = spawn_app_with_limits(db.clone(), limits(30, 1, 64)).await;
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let ann = app.create_user("ann", "password-123", "user").await;
    let image_id = sqlx::query_scalar("SELECT image_id FROM images LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let session_id = insert_session(&db, ann, image_id, None, "running", 1.0, 1).await;
    let (cookie, _) = crate::sharing::signed_in(&app, "ann").await;
    let mut chat = crate::sharing::chat(&app, session_id, &cookie)
        .await
        .unwrap();
    next_of_type(&mut chat, "history").await;

    // Silent for three idle timeouts, then still open both ways.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = serde_json::json!({ "text": "still here" }).to_string();
    chat.send(Message::Text(text.into()))
        .await
        .expect("the chat socket was closed while idle");
    let message = next_of_type(&mut chat, "message").await;
    assert_eq!(message["message"]["text"], "still here", "{message}");
}

async fn next_of_type(chat: &mut crate::sharing::Chat, kind: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, chat.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let event: serde_json::Value = serde_json::from_str(&text).unwrap();
                if event["type"] == kind {
                    return event;
                }
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no {kind} event: {other:?}"),
        }
    }
}
