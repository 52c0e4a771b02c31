//! Sharing a live session: view-only enforced in the proxy (checked below the browser with an
//! RFB client), control hand-over, revocation, and the chat across two server processes.
use crate::support::{redis_url, spawn_app_with_prefix, TestApp};
use berth::rfb::{Session, KEY_ALT, KEY_CONTROL};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use sqlx::PgPool;
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
use uuid::Uuid;

/// Signs in and returns the cookie pair and a client carrying it.
pub async fn signed_in(app: &TestApp, username: &str) -> (String, reqwest::Client) {
    let response = app.login(&app.client(), username, "password-123").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = crate::support::cookie_pair(&response);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    (cookie, client)
}

async fn rpc(
    app: &TestApp,
    client: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(&format!("/rpc/{endpoint}")))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn share(app: &TestApp, owner: &reqwest::Client, session_id: Uuid) -> String {
    let response = rpc(
        app,
        owner,
        "sharing/set",
        &[("session_id", &session_id.to_string()), ("enabled", "true")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: serde_json::Value = response.json().await.unwrap();
    view["share_id"].as_str().unwrap().to_owned()
}

pub async fn join(app: &TestApp, viewer: &reqwest::Client, share_id: &str) -> StatusCode {
    rpc(app, viewer, "sharing/join", &[("share_id", share_id)])
        .await
        .status()
}

fn file_exists(container: &str, path: &str) -> bool {
    Command::new("docker")
        .args(["exec", container, "test", "-f", path])
        .status()
        .unwrap()
        .success()
}

async fn eventually_exists(container: &str, path: &str) -> bool {
    for _ in 0..40 {
        if file_exists(container, path) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// Opens a terminal with Ctrl+Alt+T and runs `touch <path>` in it.
async fn touch_through(session: &mut Session, path: &str) {
    session
        .chord(&[KEY_CONTROL, KEY_ALT], 't' as u32)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    session.type_text(&format!("touch {path}\n")).await.unwrap();
}

/// After a lone KeyEvent type byte sent while in control: seven bytes that complete that
/// KeyEvent, then a SetEncodings (a message viewers may send) whose bytes, read by a VNC server
/// still waiting for the rest of the KeyEvent (as when a proxy forwarded the first byte raw),
/// are KeyEvents typing `command`, ending in a clipboard message that swallows the rest.
fn smuggling_keys(command: &str) -> Vec<u8> {
    let keysym = |c: char| if c == '\n' { 0xff0d } else { c as u32 };
    let mut chars = command.chars();
    let first = chars.next().unwrap() as u32;
    assert!(first < 0x100);
    // Encodings: 256, so the count's low byte (which the server would read as the first byte of
    // the keysym) is 0; its high byte is the server's padding.
    let mut message = vec![2, 0, 1, 0];
    // The server's KeyEvent rest: down = 2, padding (0, 1), keysym (0, 0, 0, first).
    let mut payload = vec![0, 0, first as u8];
    let key = |down: bool, keysym: u32| {
        let mut event = vec![4, down as u8, 0, 0];
        event.extend_from_slice(&keysym.to_be_bytes());
        event
    };
    payload.extend(key(false, first));
    for c in chars {
        payload.extend(key(true, keysym(c)));
        payload.extend(key(false, keysym(c)));
    }
    let rest = 1024 - payload.len() - 8;
    payload.extend([6, 0, 0, 0]);
    payload.extend((rest as u32).to_be_bytes());
    payload.extend(std::iter::repeat_n(b'x', rest));
    assert_eq!(payload.len(), 1024);
    message.extend(payload);
    let mut bytes = vec![0u8; 7];
    bytes.extend(message);
    bytes
}

pub async fn desktop(
    app: &TestApp,
    session_id: Uuid,
    cookie: &str,
) -> Result<Session, berth::rfb::RfbError> {
    let url = format!("ws://{}/desktop/{session_id}/websockify", app.addr);
    let headers = [
        ("cookie", cookie.to_owned()),
        ("origin", format!("http://{}", app.addr)),
    ];
    Session::open(&url, &headers, Duration::from_secs(30)).await
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn viewers_watch_but_their_input_never_reaches_the_desktop(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app =
        spawn_app_with_prefix(db, &redis_url(), &format!("berth-test:{}:", Uuid::new_v4())).await;
    let agent = crate::docker_sessions::start_test_agent(&app).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    app.create_user("vic", "password-123", "user").await;
    app.create_user("eve", "password-123", "user").await;
    let desktop_image: Uuid =
        sqlx::query_scalar("SELECT image_id FROM images WHERE friendly_name = 'Desktop'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let session_id = app
        .manager
        .request_session(ann, desktop_image)
        .await
        .unwrap();
    crate::docker_sessions::wait_running(&app.db, session_id).await;
    let container: String =
        sqlx::query_scalar("SELECT container_id FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();

    let (ann_cookie, ann_http) = signed_in(&app, "ann").await;
    let (vic_cookie, vic_http) = signed_in(&app, "vic").await;
    let (eve_cookie, _) = signed_in(&app, "eve").await;
    // Without the link nobody but the owner gets in.
    assert!(desktop(&app, session_id, &vic_cookie).await.is_err());
    let share_id = share(&app, &ann_http, session_id).await;
    assert_eq!(join(&app, &vic_http, &share_id).await, StatusCode::OK);

    // The viewer sees the desktop, but keys and clicks are dropped by the proxy.
    let mut viewer = desktop(&app, session_id, &vic_cookie)
        .await
        .expect("the viewer sees the desktop");
    assert!(viewer.frame.width > 0);
    touch_through(&mut viewer, "/tmp/viewer-typed").await;
    viewer.send_raw(vec![5, 1, 0, 100, 0, 100]).await.unwrap(); // a click
    assert!(
        !eventually_exists(&container, "/tmp/viewer-typed").await,
        "a viewer's keys reached the desktop"
    );
    // Eve, without the link, cannot watch.
    assert!(desktop(&app, session_id, &eve_cookie).await.is_err());

    // The owner's keys do reach it (so the check above could have failed).
    // Under load the terminal may open after the keys were typed: try a few times.
    let mut owner = desktop(&app, session_id, &ann_cookie).await.unwrap();
    let mut reached = false;
    for _ in 0..3 {
        touch_through(&mut owner, "/tmp/owner-typed").await;
        if eventually_exists(&container, "/tmp/owner-typed").await {
            reached = true;
            break;
        }
    }
    assert!(reached, "the owner's keys did not reach the desktop");

    // Control handed over: the same viewer connection now types; taken back: no more.
    let vic_id: String =
        sqlx::query_scalar("SELECT user_id::text FROM users WHERE username = 'vic'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let handed = rpc(
        &app,
        &ann_http,
        "sharing/control",
        &[
            ("session_id", &session_id.to_string()),
            ("user_id", &vic_id),
        ],
    )
    .await;
    assert_eq!(handed.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    viewer
        .type_text("touch /tmp/viewer-in-control\n")
        .await
        .unwrap();
    assert!(
        eventually_exists(&container, "/tmp/viewer-in-control").await,
        "control was not handed over"
    );
    // A message begun while in control and finished after: the first byte of a KeyEvent now,
    // the rest (and a crafted SetEncodings) once control is taken back.
    viewer.send_raw(vec![4]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    rpc(
        &app,
        &ann_http,
        "sharing/control",
        &[("session_id", &session_id.to_string()), ("user_id", "")],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    viewer
        .send_raw(smuggling_keys("touch /tmp/smuggled\n"))
        .await
        .unwrap();
    viewer
        .type_text("touch /tmp/viewer-after-control\n")
        .await
        .unwrap();
    assert!(
        !eventually_exists(&container, "/tmp/viewer-after-control").await,
        "control was not taken back"
    );
    assert!(
        !file_exists(&container, "/tmp/smuggled"),
        "keys smuggled inside an allowed message reached the desktop"
    );

    // A message type the filter does not know ends the viewer's connection.
    let mut rogue = desktop(&app, session_id, &vic_cookie).await.unwrap();
    rogue.send_raw(vec![99, 0, 0, 0]).await.unwrap();
    assert!(
        rogue.closed_within(Duration::from_secs(5)).await,
        "an unknown message did not end the connection"
    );

    // Revoking the link disconnects the viewer and refuses the old link.
    let revoked = rpc(
        &app,
        &ann_http,
        "sharing/revoke",
        &[("session_id", &session_id.to_string())],
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(
        viewer.closed_within(Duration::from_secs(10)).await,
        "the viewer stayed connected after revocation"
    );
    assert_eq!(
        join(&app, &vic_http, &share_id).await,
        StatusCode::FORBIDDEN
    );
    assert!(desktop(&app, session_id, &vic_cookie).await.is_err());

    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log")
        .fetch_all(&app.db)
        .await
        .unwrap();
    for action in ["share_on", "share_join", "share_control", "share_revoke"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not audited: {actions:?}"
        );
    }
    app.manager
        .destroy_session(session_id, "test")
        .await
        .unwrap();
    agent.abort();
}

pub type Chat =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn chat(app: &TestApp, session_id: Uuid, cookie: &str) -> Result<Chat, String> {
    let mut request = format!("ws://{}/chat/{session_id}", app.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", format!("http://{}", app.addr).parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
        .map_err(|e| e.to_string())
}

/// The next event of the given type (skipping others).
async fn next_event(socket: &mut Chat, kind: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event"));
        match message {
            Some(Ok(Message::Text(text))) => {
                let event: serde_json::Value = serde_json::from_str(&text).unwrap();
                if event["type"] == kind {
                    return event;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("chat closed while waiting for {kind}: {other:?}"),
        }
    }
}

/// The next message posted by `user` (one's own messages come back too).
async fn next_message_from(socket: &mut Chat, user: &str) -> serde_json::Value {
    loop {
        let event = next_event(socket, "message").await;
        if event["message"]["user"] == user {
            return event;
        }
    }
}

async fn say(socket: &mut Chat, text: &str) {
    let payload = serde_json::json!({ "text": text }).to_string();
    socket.send(Message::Text(payload.into())).await.unwrap();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn chat_crosses_server_processes_and_refuses_bad_messages(db: PgPool) {
    // Two replicas: same database, same Redis and prefix, different listeners.
    let prefix = format!("berth-test:{}:", Uuid::new_v4());
    let one = spawn_app_with_prefix(db.clone(), &redis_url(), &prefix).await;
    let two = spawn_app_with_prefix(db, &redis_url(), &prefix).await;
    berth::manager::images::register_defaults(&one.db)
        .await
        .unwrap();
    let ann = one.create_user("ann", "password-123", "user").await;
    one.create_user("bob", "password-123", "user").await;
    one.create_user("eve", "password-123", "user").await;
    // A running session needs no container for chatting.
    let session_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO sessions (session_id, user_id, image_id, session_secret, operational_status, cores, memory, expiration_date)
         SELECT $1, $2, image_id, 'x', 'running', 1, 1, now() + interval '1 hour' FROM images LIMIT 1",
    )
    .bind(session_id)
    .bind(ann)
    .execute(&one.db)
    .await
    .unwrap();
    let (ann_cookie, ann_http) = signed_in(&one, "ann").await;
    let (bob_cookie, bob_http) = signed_in(&two, "bob").await;
    let (eve_cookie, _) = signed_in(&two, "eve").await;
    assert!(
        chat(&two, session_id, &bob_cookie)
            .await
            .unwrap_err()
            .contains("403"),
        "bob is not in the session yet"
    );
    let share_id = share(&one, &ann_http, session_id).await;
    assert_eq!(join(&two, &bob_http, &share_id).await, StatusCode::OK);

    let mut ann_chat = chat(&one, session_id, &ann_cookie).await.unwrap();
    assert_eq!(
        next_event(&mut ann_chat, "history").await["messages"],
        serde_json::json!([])
    );
    let mut bob_chat = chat(&two, session_id, &bob_cookie).await.unwrap();
    next_event(&mut bob_chat, "history").await;
    // Presence, across processes: ann sees bob arrive.
    loop {
        let presence = next_event(&mut ann_chat, "presence").await;
        let users = presence["users"].as_array().unwrap().clone();
        if users.contains(&"ann".into()) && users.contains(&"bob".into()) {
            break;
        }
    }

    // Across the two processes, both ways; presence shows both.
    say(&mut ann_chat, "hello from one").await;
    let heard = next_message_from(&mut bob_chat, "ann").await;
    assert_eq!(heard["message"]["text"], "hello from one");
    assert_eq!(heard["message"]["user"], "ann");
    say(&mut bob_chat, "<b>hi</b> from two").await;
    let heard = next_message_from(&mut ann_chat, "bob").await;
    assert_eq!(
        heard["message"]["text"], "<b>hi</b> from two",
        "markup must arrive verbatim, as text"
    );

    // Too long: refused to the sender only.
    say(&mut bob_chat, &"x".repeat(1001)).await;
    assert!(next_event(&mut bob_chat, "error").await["message"]
        .as_str()
        .unwrap()
        .contains("at most 1000"));
    // Too fast: the sixth message within ten seconds is refused.
    for n in 0..5 {
        say(&mut ann_chat, &format!("burst {n}")).await;
    }
    say(&mut ann_chat, "one too many").await;
    assert!(next_event(&mut ann_chat, "error").await["message"]
        .as_str()
        .unwrap()
        .contains("too fast"));

    // Joining later shows the history.
    let mut late = chat(&one, session_id, &ann_cookie).await.unwrap();
    let history = next_event(&mut late, "history").await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(&texts[..2], &["hello from one", "<b>hi</b> from two"]);
    assert!(!texts.contains(&"one too many"));

    // A frame far past any message's size ends that socket: it is never buffered.
    let mut flood = chat(&one, session_id, &ann_cookie).await.unwrap();
    next_event(&mut flood, "history").await;
    let _ = flood.send(Message::Text("x".repeat(1 << 20).into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = flood.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a 1 MiB chat frame was read");

    // Someone who never joined cannot chat; revoking ends the viewer's chat.
    assert!(chat(&two, session_id, &eve_cookie)
        .await
        .unwrap_err()
        .contains("403"));
    rpc(
        &one,
        &ann_http,
        "sharing/revoke",
        &[("session_id", &session_id.to_string())],
    )
    .await;
    next_event(&mut bob_chat, "ended").await;
    assert!(chat(&two, session_id, &bob_cookie)
        .await
        .unwrap_err()
        .contains("403"));
}
