//! An upload cut off midway (the browser's Cancel, a closed tab, a lost network, Berth itself
//! killed): nothing of it is left in the session's `~/Uploads` (neither the partial file nor
//! its temporary file), the failed attempt is audited, and the session goes on transferring:
//! the same name uploads right after.
use crate::files::{in_container, launch};
use crate::serve::{self, exec, room_for_desktops, wait_status, Api, Serve};
use crate::sharing::signed_in;
use crate::support::cookie_pair;
use app::model::SessionStatus;
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

/// The bytes written so far into uploads under way to the session's transfer folder: the
/// agent (here, in this process) keeps each upload an unnamed open file until complete.
fn in_flight(session_id: uuid::Uuid) -> u64 {
    held_open("self", session_id, "Uploads").iter().sum()
}

/// As [`in_flight`], for the agent in process `pid`.
fn in_flight_of(pid: &str, session_id: uuid::Uuid) -> u64 {
    held_open(pid, session_id, "Uploads").iter().sum()
}

/// The sizes of the files in the session's `folder` that process `pid` holds open.
fn held_open(pid: &str, session_id: uuid::Uuid, folder: &str) -> Vec<u64> {
    let Ok(descriptors) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let session = session_id.to_string();
    let folder = format!("/{folder}/");
    descriptors
        .filter_map(|descriptor| {
            let path = descriptor.ok()?.path();
            let target = std::fs::read_link(&path).ok()?;
            let target = target.to_string_lossy();
            let ours = target.contains(&session) && target.contains(&folder);
            ours.then(|| std::fs::metadata(&path).ok().map(|m| m.len()))?
        })
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
    let path = format!("/files/{}/uploads/big.bin", session.session_id);
    let stream = partial_upload(session.app.addr, &path, &cookie).await;
    // The bytes reached the session's folder (the upload is under way there) before the cut.
    let container = session.container.as_str();
    let session_id = session.session_id;
    let under_way = eventually(|| async move { in_flight(session_id) > 0 }).await;
    assert!(
        under_way,
        "the upload never reached the session: {:?}",
        uploads(container).await
    );
    drop(stream);

    // Nothing of it stays: no `big.bin`, no temporary file, nothing held open.
    let cleaned =
        eventually(
            || async move { uploads(container).await.is_empty() && in_flight(session_id) == 0 },
        )
        .await;
    assert!(
        cleaned,
        "left in ~/Uploads: {:?}, {} bytes held open",
        uploads(container).await,
        in_flight(session_id)
    );

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

/// A PUT of `DECLARED` bytes of which `SENT_BEFORE_CUT` are sent, the connection kept open.
async fn partial_upload(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: &str,
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Length: {DECLARED}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b'x'; 1 << 20];
    let mut sent = 0;
    while sent < SENT_BEFORE_CUT {
        stream.write_all(&piece).await.unwrap();
        sent += piece.len();
    }
    stream
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn berth_killed_midway_through_an_upload_leaves_nothing_behind(db: PgPool) {
    let mut berth = Serve::start(&db, true);
    berth.wait_ready().await;
    let api = Api {
        serve: &berth,
        key: serve::key(&db).await,
    };
    room_for_desktops(&db).await;
    let (user_id, session_id) = serve::launch(&api, &db, "kim").await;
    wait_status(&db, &session_id, SessionStatus::Running).await;
    drop(api);
    let cookie = cookie_pair(&berth.sign_in(&reqwest::Client::new(), "kim").await);
    let session_uuid: uuid::Uuid = session_id.parse().unwrap();
    let path = format!("/files/{session_uuid}/uploads/big.bin");
    let stream = partial_upload(berth.addr, &path, &cookie).await;
    let pid = berth.pid().to_string();
    let under_way = eventually(|| {
        let pid = pid.clone();
        async move { in_flight_of(&pid, session_uuid) > 0 }
    })
    .await;
    assert!(under_way, "the upload never reached the session");

    berth.kill();
    drop(stream);
    berth.restart().await;
    let api = Api {
        serve: &berth,
        key: serve::key(&db).await,
    };
    // The desktop outlived Berth; nothing of the upload did.
    wait_status(&db, &session_id, SessionStatus::Running).await;
    let left = exec(&api, &user_id, &session_id, "ls -A ~/Uploads").await;
    assert_eq!(left.trim(), "", "left in ~/Uploads");
    let again = reqwest::Client::new()
        .put(berth.url(&path))
        .header(reqwest::header::COOKIE, &cookie)
        .body("whole this time")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let stored = exec(&api, &user_id, &session_id, "cat ~/Uploads/big.bin").await;
    assert_eq!(stored, "whole this time");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_download_cut_off_midway_lets_go_of_the_file(db: PgPool) {
    let session = launch(db).await;
    let container = session.container.as_str();
    in_container(
        container,
        "head -c 200000000 /dev/zero > ~/Downloads/big.bin",
    )
    .await;
    let mut response = session.get(&session.owner, "/downloads/big.bin").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.chunk().await.unwrap().is_some());
    let session_id = session.session_id;
    assert_eq!(held_open("self", session_id, "Downloads"), [200_000_000]);
    drop(response);
    let released =
        eventually(|| async move { held_open("self", session_id, "Downloads").is_empty() }).await;
    assert!(
        released,
        "the agent still holds the file after the client left"
    );
    // And the file downloads whole right after.
    let response = session.get(&session.owner, "/downloads/big.bin").await;
    assert_eq!(response.content_length(), Some(200_000_000));
    assert_eq!(response.bytes().await.unwrap().len(), 200_000_000);
    session.finish().await;
}
