//! PostgreSQL and Redis going away and coming back while Berth runs: requests answer 503
//! naming what is down, and everything recovers without a restart of Berth (chat included).
//!
//! The outage is made by a fault-injecting TCP link between Berth and the real PostgreSQL or
//! Redis: cutting it drops every open connection and refuses new ones, which is what a
//! restart of either looks like from Berth's side, without disturbing the other tests that
//! share those servers.
use crate::sharing::Chat;
use crate::support::{redis_url, spawn_app_with_redis, TestApp};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// A TCP link to `target` that can be cut and restored as a restart of the server behind it
/// looks: cut, its open connections drop and its port refuses connections; restored, it
/// listens on the same port again.
struct FaultyLink {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl FaultyLink {
    async fn start(target: SocketAddr) -> FaultyLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let mut state = up.subscribe();
        let connections = up.clone();
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                let Some(open) = listener.as_ref() else {
                    // Down: nothing listens until restored.
                    if state.wait_for(|up| *up).await.is_err() {
                        return;
                    }
                    listener = Some(TcpListener::bind(addr).await.unwrap());
                    continue;
                };
                tokio::select! {
                    accepted = open.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let mut down = connections.subscribe();
                        tokio::spawn(async move {
                            let Ok(mut server) = TcpStream::connect(target).await else {
                                return;
                            };
                            let mut client = client;
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = down.wait_for(|up| !*up) => {}
                            }
                        });
                    }
                    changed = state.wait_for(|up| !*up) => {
                        if changed.is_err() {
                            return;
                        }
                        listener = None;
                    }
                }
            }
        });
        FaultyLink { addr, up }
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }

    /// `url` with its host and port replaced by this link's.
    fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }
}

fn target_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap();
    format!("{host}:{port}").parse().unwrap()
}

async fn ready(app: &TestApp) -> (StatusCode, String) {
    let response = reqwest::get(app.url("/readyz")).await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn open_chat(app: &TestApp, session_id: Uuid, cookie: &str) -> Chat {
    crate::sharing::chat(app, session_id, cookie).await.unwrap()
}

/// The next chat event of one of the given types.
async fn next_of(chat: &mut Chat, kinds: &[&str]) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let message = tokio::time::timeout_at(deadline, chat.next())
            .await
            .unwrap_or_else(|_| panic!("no {kinds:?} event"));
        if let Some(Ok(Message::Text(text))) = message {
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            if kinds.iter().any(|kind| event["type"] == *kind) {
                return event;
            }
        } else if !matches!(message, Some(Ok(_))) {
            panic!("the chat closed: {message:?}");
        }
    }
}

async fn say(chat: &mut Chat, text: &str) {
    let payload = serde_json::json!({ "text": text }).to_string();
    chat.send(Message::Text(payload.into())).await.unwrap();
}

async fn rpc(app: &TestApp, client: &reqwest::Client, endpoint: &str) -> reqwest::Response {
    client
        .post(app.url(&format!("/rpc/{endpoint}")))
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap()
}

async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..120 {
        if probe().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{what} never happened");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn postgres_then_redis_outages_answer_503_and_recover_without_a_restart(db: PgPool) {
    let database_url = crate::serve::database_url(&db);
    let postgres = FaultyLink::start(target_of(&database_url)).await;
    let redis = FaultyLink::start(target_of(&redis_url())).await;
    let pool = berth::startup::connect_database(&postgres.url_for(&database_url))
        .await
        .unwrap();
    let app = spawn_app_with_redis(pool, &redis.url_for(&redis_url())).await;
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let ann = app.create_user("ann", "password-123", "user").await;
    let session_id = crate::support::insert_session(
        &db,
        ann,
        sqlx::query_scalar("SELECT image_id FROM images LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap(),
        None,
        "running",
        1.0,
        1,
    )
    .await;
    let (cookie, client) = crate::sharing::signed_in(&app, "ann").await;
    let mut chat = open_chat(&app, session_id, &cookie).await;
    next_of(&mut chat, &["history"]).await;

    // PostgreSQL goes away: readiness and requests that need it say so with a 503.
    postgres.cut();
    eventually("readiness to name PostgreSQL", || async {
        let (status, body) = ready(&app).await;
        status == StatusCode::SERVICE_UNAVAILABLE && body.to_lowercase().contains("postgres")
    })
    .await;
    let during = rpc(&app, &client, "sessions/mine").await;
    assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!during.text().await.unwrap().is_empty());
    postgres.restore();
    eventually("requests to work again", || async {
        ready(&app).await.0 == StatusCode::OK
            && rpc(&app, &client, "sessions/mine").await.status() == StatusCode::OK
    })
    .await;

    // Then Redis: chat reports that it cannot post, and works again afterwards over the
    // same open socket (the hub resubscribes by itself).
    let mut probe = berth::startup::connect_redis(&redis.url_for(&redis_url()))
        .await
        .unwrap();
    redis.cut();
    // Commands fail (they used to hang for minutes while the client backed off).
    for _ in 0..3 {
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut probe);
        let answered = tokio::time::timeout(Duration::from_secs(10), ping).await;
        assert!(matches!(answered, Ok(Err(_))), "{answered:?}");
    }
    eventually("readiness to name Redis", || async {
        let (status, body) = ready(&app).await;
        status == StatusCode::SERVICE_UNAVAILABLE && body.to_lowercase().contains("redis")
    })
    .await;
    say(&mut chat, "lost?").await;
    let refused = next_of(&mut chat, &["error", "message"]).await;
    assert_eq!(refused["type"], "error", "{refused}");
    redis.restore();
    eventually("readiness after Redis is back", || async {
        ready(&app).await.0 == StatusCode::OK
    })
    .await;
    let mut heard = false;
    for attempt in 0..20 {
        say(&mut chat, &format!("back {attempt}")).await;
        let event = next_of(&mut chat, &["error", "message"]).await;
        if event["type"] == "message" {
            heard = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(heard, "chat never recovered after Redis came back");
}
