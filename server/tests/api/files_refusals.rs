//! What file transfer refuses, against a real session: path tricks and symbolic links out of
//! the folders (400 naming the problem, nothing written or read), anyone but the owner (403;
//! 401 anonymous), settings turned off (403 naming them), uploads over the groups' limit (413
//! naming it, before a byte is read) and uploads of undeclared length (411).
use crate::files::{in_container, launch, launch_through_exec, Launched};
use crate::sharing::{join, share, signed_in};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request exactly as written (no client normalises `..` or `%2e%2e` away): its status and
/// error message.
async fn raw(session: &Launched, cookie: &str, method: &str, rest: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(session.app.addr)
        .await
        .unwrap();
    let request = format!(
        "{method} /files/{}{rest} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        session.session_id, session.app.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let error = serde_json::from_str::<Value>(body).unwrap_or_default()["error"].clone();
    (status, error.as_str().unwrap_or(body).to_owned())
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn path_and_symlink_tricks_are_refused(db: PgPool) {
    let session = launch(db).await;
    tricks_are_refused(&session).await;
    // The folders are the host's transfer folders: the user cannot swap them for links.
    in_container(
        &session.container,
        "rm -rf ~/Uploads ~/Downloads; ln -s /tmp ~/Uploads; ln -s /etc ~/Downloads; true",
    )
    .await;
    let (status, reply) = session.upload(&session.owner, "y", b"safe".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(
        in_container(&session.container, "cat ~/Uploads/y").await,
        "safe"
    );
    assert_eq!(
        in_container(&session.container, "ls /tmp/y 2>/dev/null | wc -l").await,
        "0\n"
    );
    let response = session.get(&session.owner, "/downloads/passwd").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    session.finish().await;
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn path_and_symlink_tricks_are_refused_through_docker_exec(db: PgPool) {
    let session = launch_through_exec(db).await;
    tricks_are_refused(&session).await;
    // ~/Uploads and ~/Downloads themselves as links elsewhere.
    in_container(
        &session.container,
        "rm -rf ~/Uploads ~/Downloads && ln -s /tmp ~/Uploads && ln -s /etc ~/Downloads",
    )
    .await;
    let (status, reply) = session.upload(&session.owner, "y", b"evil".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("~/Uploads is a symbolic link"),
        "{reply}"
    );
    assert_eq!(
        in_container(&session.container, "ls /tmp/y 2>/dev/null | wc -l").await,
        "0\n"
    );
    for rest in ["/downloads", "/downloads/passwd"] {
        let response = session.get(&session.owner, rest).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{rest}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("~/Downloads is a symbolic link"),
            "{body}"
        );
    }
    session.finish().await;
}

/// Names that climb or carry control bytes, links out of `~/Downloads`, a link in `~/Uploads`.
async fn tricks_are_refused(session: &Launched) {
    let (cookie, _) = signed_in(&session.app, "ann").await;
    let long = "n".repeat(256);
    let cases: &[(&str, &str)] = &[
        ("..", "climbs"),
        ("%2e%2e", "climbs"),
        ("%2E.", "climbs"),
        ("..%2F..%2Fetc%2Fpasswd", "climbs"),
        ("%2Fetc%2Fshadow", "absolute"),
        ("a%2Fb", "\"/\""),
        ("a%00b", "NUL"),
        ("a%0Ab", "control"),
        ("a%1Bb", "control"),
        (&long, "255 bytes"),
    ];
    for (name, problem) in cases {
        for (method, path) in [("PUT", "/uploads/"), ("GET", "/downloads/")] {
            let (status, body) = raw(session, &cookie, method, &format!("{path}{name}")).await;
            assert_eq!(status, 400, "{method} {path}{name}: {body}");
            assert!(body.contains(problem), "{method} {name}: {body}");
        }
    }
    assert_eq!(
        in_container(&session.container, "ls -A ~/Uploads 2>/dev/null | wc -l").await,
        "0\n"
    );

    // A link in ~/Downloads to a file outside it (readable by the user) is not followed; one to
    // a file inside is.
    in_container(
        &session.container,
        "mkdir -p ~/Downloads && ln -s /etc/passwd ~/Downloads/pw && echo in > ~/Downloads/real \
         && ln -s ~/Downloads/real ~/Downloads/alias && ln -s ../.bashrc ~/Downloads/rc",
    )
    .await;
    for name in ["pw", "rc"] {
        let response = session
            .get(&session.owner, &format!("/downloads/{name}"))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("outside ~/Downloads"),
            "{body}"
        );
    }
    let response = session.get(&session.owner, "/downloads/alias").await;
    assert_eq!(response.text().await.unwrap(), "in\n");

    // A link in ~/Uploads is not written through.
    in_container(
        &session.container,
        "echo original > /tmp/victim && mkdir -p ~/Uploads && ln -s /tmp/victim ~/Uploads/x",
    )
    .await;
    let (status, reply) = session.upload(&session.owner, "x", b"evil".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("symbolic link"),
        "{reply}"
    );
    assert_eq!(
        in_container(&session.container, "cat /tmp/victim").await,
        "original\n"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn only_the_owner_transfers_as_the_groups_allow(db: PgPool) {
    let session = launch(db).await;
    let app = &session.app;
    in_container(
        &session.container,
        "mkdir -p ~/Downloads && echo x > ~/Downloads/f",
    )
    .await;
    let (viewer, _) = app.signed_in("vic", "user").await;
    let share_id = share(app, &session.owner, session.session_id).await;
    assert_eq!(join(app, &viewer, &share_id).await, StatusCode::OK);
    let (stranger, _) = app.signed_in("sam", "admin").await;
    for (client, status, says) in [
        (&viewer, StatusCode::FORBIDDEN, "Viewers"),
        (&stranger, StatusCode::FORBIDDEN, "someone else"),
        (&app.client(), StatusCode::UNAUTHORIZED, "sign in"),
    ] {
        let (got, reply) = session.upload(client, "v.txt", b"v".to_vec()).await;
        assert_eq!(got, status, "{reply}");
        assert!(reply["error"].as_str().unwrap().contains(says), "{reply}");
        for rest in ["", "/downloads", "/downloads/f"] {
            assert_eq!(session.get(client, rest).await.status(), status, "{rest}");
        }
    }
    assert_eq!(
        in_container(&session.container, "ls ~/Uploads 2>/dev/null | wc -l").await,
        "0\n"
    );

    let panel: Value = session.get(&session.owner, "").await.json().await.unwrap();
    assert_eq!(
        panel,
        json!({"uploads": true, "downloads": true, "upload_limit_bytes": 1_024_000_000u64})
    );
    crate::groups::set(
        app,
        store::groups::ALL_USERS,
        json!({"allow_kasm_uploads": false, "allow_kasm_downloads": false}),
    )
    .await;
    let panel: Value = session.get(&session.owner, "").await.json().await.unwrap();
    assert_eq!(
        (&panel["uploads"], &panel["downloads"]),
        (&json!(false), &json!(false))
    );
    let (status, reply) = session.upload(&session.owner, "u.txt", b"u".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("allow_kasm_uploads"),
        "{reply}"
    );
    for rest in ["/downloads", "/downloads/f"] {
        let response = session.get(&session.owner, rest).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("allow_kasm_downloads"),
            "{body}"
        );
    }

    // Over the limit: 413 naming it, answered before the body is read; nothing is written.
    crate::groups::set(
        app,
        store::groups::ALL_USERS,
        json!({"allow_kasm_uploads": true, "upload_size_limit_mb": 1}),
    )
    .await;
    let (status, reply) = session
        .upload(&session.owner, "big.bin", vec![7; 1_000_001])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    let message = reply["error"].as_str().unwrap();
    assert!(
        message.contains("at most 1 MB") && message.contains("upload_size_limit_mb"),
        "{message}"
    );
    let (status, _) = session
        .upload(&session.owner, "ok.bin", vec![7; 1_000_000])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // An upload that does not declare its length.
    let chunks =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"abc"))]);
    let response = session
        .owner
        .put(session.url("/uploads/chunked.bin"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::LENGTH_REQUIRED);
    assert_eq!(
        in_container(&session.container, "ls -A ~/Uploads").await,
        "ok.bin\n"
    );
    session.finish().await;
}
