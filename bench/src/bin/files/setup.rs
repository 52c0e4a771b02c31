//! bench/files: the session to transfer with (a user, a key, a Desktop, a cookie) and the
//! report.
use super::{Result, Session, PERMISSIONS};
use bench::devapi::Api;
use serde_json::json;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

const PASSWORD: &str = "bench-files-password";

pub async fn launch(db: &PgPool, base: &str, server: &mut bench::guard::Guard) -> Result<Session> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready: Option<bool> = sqlx::query_scalar(
            "SELECT bool_or(status = 'online' AND 'berth/desktop:latest' = ANY(images_present)) FROM servers",
        )
        .fetch_one(db)
        .await
        .map_err(|e| e.to_string())?;
        if ready == Some(true) {
            break;
        }
        server.check()?;
        if Instant::now() > deadline {
            return Err("the server's agent did not come online with the Desktop image".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let admin: Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'admin'")
        .fetch_one(db)
        .await
        .map_err(|e| format!("admin: {e}"))?;
    let permissions: Vec<String> = PERMISSIONS.iter().map(|p| p.to_string()).collect();
    let (key, secret) =
        app::backend::api_keys::create(db, "bench-files", &permissions, false, None, admin)
            .await
            .map_err(|e| format!("API key: {e}"))?;
    let api = Api::new(base, key, secret)?;
    let user_id = app::backend::users::create(
        db,
        app::backend::users::NewUser {
            username: "bench-files".into(),
            password: PASSWORD.into(),
            role: "user".into(),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("user: {e}"))?;
    let image_id: Uuid =
        sqlx::query_scalar("SELECT image_id FROM images WHERE friendly_name = 'Desktop'")
            .fetch_one(db)
            .await
            .map_err(|e| e.to_string())?;
    let requested = api
        .call(
            "request_kasm",
            json!({"user_id": user_id.simple().to_string(), "image_id": image_id.simple().to_string()}),
        )
        .await;
    let session_id = requested.session_id().ok_or_else(|| requested.message())?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while api
        .status(user_id, session_id)
        .await
        .operational_status()
        .as_deref()
        != Some("running")
    {
        if Instant::now() > deadline {
            return Err("the session never ran".into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let container: String =
        sqlx::query_scalar("SELECT container_id FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(db)
            .await
            .map_err(|e| e.to_string())?;
    Ok(Session {
        base: base.to_owned(),
        session_id,
        container,
        cookie: sign_in(base).await?,
    })
}

/// The sign-in cookie of the bench's user.
async fn sign_in(base: &str) -> Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/rpc/login"))
        .form(&[("username", "bench-files"), ("password", PASSWORD)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .ok_or("the sign-in set no cookie")?;
    Ok(cookie.to_owned())
}

const KINDS: [&str; 4] = [
    "upload: docker cp (floor)",
    "upload: Berth",
    "download: docker cp (floor)",
    "download: Berth",
];

pub fn report(megabytes: u64, times: &[Vec<Duration>; 4]) {
    let median = |runs: &[Duration]| {
        let mut sorted = runs.to_vec();
        sorted.sort();
        sorted[sorted.len() / 2]
    };
    let rate = |took: Duration| megabytes as f64 / took.as_secs_f64();
    println!(
        "\n{megabytes} MB, {} runs each (after one warm-up)\n",
        times[0].len()
    );
    println!("| transfer | median s | median MB/s | best MB/s | Berth ÷ docker cp |");
    println!("|---|---|---|---|---|");
    for (kind, runs) in times.iter().enumerate() {
        let best = runs.iter().min().copied().unwrap_or_default();
        let ratio = if kind % 2 == 1 {
            format!(
                "{:.2}×",
                rate(median(runs)) / rate(median(&times[kind - 1]))
            )
        } else {
            String::new()
        };
        println!(
            "| {} | {:.2} | {:.0} | {:.0} | {ratio} |",
            KINDS[kind],
            median(runs).as_secs_f64(),
            rate(median(runs)),
            rate(best),
        );
    }
}
