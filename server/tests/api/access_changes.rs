//! Open streams end as soon as the access they were opened with does: a desktop WebSocket and
//! a chat close within a second or two when their user is disabled, signs out, is deleted or
//! changes password, or the session ends, on whichever replica the change is made.
use crate::sharing::{chat, signed_in};
use crate::support::{insert_image, insert_session, redis_url, spawn_app_with_prefix, TestApp};
use berth::rfb::Session;
use futures_util::StreamExt;
use reqwest::StatusCode;
use sqlx::PgPool;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// The stand-in sessions' secret (`insert_session` stores it).
const SECRET: &str = "secret";

/// A VNC server in the test: VNC authentication with [`SECRET`], a 64x64 desktop, an empty
/// update for each request; every connection served until it closes.
async fn stand_in_desktop() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 64];
                socket.write_all(b"RFB 003.008\n").await?;
                socket.read_exact(&mut buffer[..12]).await?;
                socket.write_all(&[1, 2]).await?;
                socket.read_exact(&mut buffer[..1]).await?;
                let challenge = *b"0123456789abcdef";
                socket.write_all(&challenge).await?;
                socket.read_exact(&mut buffer[..16]).await?;
                let right = berth::rfb::auth::response(SECRET, &challenge);
                let result = if buffer[..16] == right { 0u8 } else { 1 };
                socket.write_all(&[0, 0, 0, result]).await?;
                socket.read_exact(&mut buffer[..1]).await?; // ClientInit
                let mut init = vec![0, 64, 0, 64];
                init.extend([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
                init.extend([0, 0, 0, 0]);
                socket.write_all(&init).await?;
                // Answer each FramebufferUpdateRequest (10 bytes) with an empty update;
                // discard SetEncodings and anything else.
                loop {
                    let read = socket.read(&mut buffer).await?;
                    if read == 0 {
                        return Ok::<(), std::io::Error>(());
                    }
                    if buffer[..read].contains(&3) {
                        socket.write_all(&[0, 0, 0, 0]).await?;
                    }
                }
            });
        }
    });
    port
}

/// A running session of `user` streamed by the stand-in on `port`.
async fn session(app: &TestApp, user: Uuid, port: u16) -> Uuid {
    let image = insert_image(&app.db, &format!("Desk {}", Uuid::new_v4())).await;
    let session_id = insert_session(&app.db, user, image, None, "running", 1.0, 1 << 30).await;
    sqlx::query(
        "UPDATE sessions SET hostname = '127.0.0.1', port = $2, container_id = 'stand-in' WHERE session_id = $1",
    )
    .bind(session_id)
    .bind(i32::from(port))
    .execute(&app.db)
    .await
    .unwrap();
    session_id
}

async fn desktop(app: &TestApp, session_id: Uuid, cookie: &str) -> Session {
    let url = format!("ws://{}/desktop/{session_id}/websockify", app.addr);
    let headers = [
        ("cookie", cookie.to_owned()),
        ("origin", format!("http://{}", app.addr)),
    ];
    Session::open(&url, &headers, Duration::from_secs(10))
        .await
        .expect("the owner's desktop opens")
}

/// Within this, a stream must have ended after the change.
const PROMPTLY: Duration = Duration::from_secs(3);

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn streams_end_when_their_access_does(db: PgPool) {
    // Two replicas of one deployment: the change is made on the other one.
    let prefix = format!("berth-test:{}:", Uuid::new_v4());
    let app = spawn_app_with_prefix(db.clone(), &redis_url(), &prefix).await;
    let other = spawn_app_with_prefix(db, &redis_url(), &prefix).await;
    let port = stand_in_desktop().await;
    let (admin, _) = other.signed_in("boss", "admin").await;

    for change in [
        "disabled",
        "signed out",
        "password changed",
        "deleted",
        "session ended",
    ] {
        let name = format!("u{}", &Uuid::new_v4().simple().to_string()[..8]);
        let user = app.create_user(&name, "password-123", "user").await;
        let session_id = session(&app, user, port).await;
        let (cookie, http) = signed_in(&app, &name).await;
        let mut stream = desktop(&app, session_id, &cookie).await;
        let mut talk = chat(&app, session_id, &cookie)
            .await
            .expect("the chat opens");
        assert!(
            !stream.closed_within(Duration::from_millis(300)).await,
            "{change}: closed before any change"
        );

        let user_id = user.to_string();
        let response = match change {
            "disabled" => {
                other
                    .call(
                        &admin,
                        "admin/set_user_disabled",
                        &[("user_id", &user_id), ("disabled", "true")],
                    )
                    .await
            }
            "signed out" => other.call(&http, "logout", &[]).await,
            "password changed" => {
                other
                    .call(
                        &admin,
                        "admin/reset_password",
                        &[("user_id", &user_id), ("new_password", "a-new-password-1")],
                    )
                    .await
            }
            "deleted" => {
                other
                    .call(&admin, "admin/delete_user", &[("user_id", &user_id)])
                    .await
            }
            _ => {
                other
                    .call(
                        &http,
                        "sessions/delete",
                        &[("session_id", &session_id.to_string())],
                    )
                    .await
            }
        };
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{change}: {}",
            response.text().await.unwrap()
        );
        assert!(
            stream.closed_within(PROMPTLY).await,
            "{change}: the desktop stream stayed open"
        );
        let chat_ended = tokio::time::timeout(PROMPTLY, async {
            while let Some(Ok(_)) = talk.next().await {}
        })
        .await;
        assert!(chat_ended.is_ok(), "{change}: the chat stayed open");
    }
}
