//! An upload cut off midway (the browser's Cancel, a closed tab, a lost network): nothing of it
//! is left in the session's `~/Uploads` (neither the partial file nor its temporary file), the
//! failed attempt is audited, and the session goes on transferring: the same name uploads
//! right after.
use crate::files::{in_container, launch};
use crate::sharing::signed_in;
use reqwest::StatusCode;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// What the upload declares, and how much of it is sent before the connection drops.
const DECLARED: u64 = 200 * 1_000_000;
const SENT_BEFORE_CUT: usize = 40 * 1_000_000;

/// `ls -A ~/Uploads` in the container, one name per line.
async fn uploads(container: &str) -> Vec<String> {
    in_container(container, "mkdir -p ~/Uploads && ls -A ~/Uploads")
        .await
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Polls `check` (every 200 ms, up to 60 s) until it holds; whether it did.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_upload_cut_off_midway_leaves_nothing_and_the_next_one_works(db: PgPool) {
    let session = launch(db).await;
    let (cookie, _) = signed_in(&session.app, "ann").await;

    // A large upload, its length declared, of which only a part is sent.
    let mut stream = tokio::net::TcpStream::connect(session.app.addr)
        .await
        .unwrap();
    let head = format!(
        "PUT /files/{}/uploads/big.bin HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Length: {DECLARED}\r\n\r\n",
        session.session_id, session.app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b'x'; 1 << 20];
    let mut sent = 0;
    while sent < SENT_BEFORE_CUT {
        stream.write_all(&piece).await.unwrap();
        sent += piece.len();
    }
    // The bytes reached the container (the upload is under way there) before the cut.
    let container = session.container.as_str();
    let under_way = eventually(|| async move {
        let started = in_container(container, "find ~/Uploads -mindepth 1 -size +0 | wc -l").await;
        started.trim() != "0"
    })
    .await;
    assert!(
        under_way,
        "the upload never reached the container: {:?}",
        uploads(container).await
    );
    drop(stream);

    // Nothing of it stays: no `big.bin`, no temporary file.
    let cleaned = eventually(|| async move { uploads(container).await.is_empty() }).await;
    assert!(cleaned, "left in ~/Uploads: {:?}", uploads(container).await);

    // The failed attempt is audited.
    let db = &session.app.db;
    let audited = eventually(|| async move {
        let outcomes: Vec<String> = sqlx::query_scalar(
            "SELECT outcome FROM audit_log WHERE action = 'file_upload' AND details->>'name' = 'big.bin'",
        )
        .fetch_all(db)
        .await
        .unwrap();
        outcomes == ["failed"]
    })
    .await;
    assert!(audited, "the cut upload is not audited as failed");

    // The session still transfers: the same name uploads whole.
    let (status, reply) = session
        .upload(&session.owner, "big.bin", b"whole this time".to_vec())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(
        in_container(container, "cat ~/Uploads/big.bin").await,
        "whole this time"
    );
    assert_eq!(uploads(container).await, ["big.bin"]);
    session.finish().await;
}
