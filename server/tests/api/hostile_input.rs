//! Hostile input costs little and gets a 4xx: bursts of wrong passwords and API keys are
//! bounded (per address, and per account before any password is checked), memory comes back
//! after them, and NUL characters, malformed arguments and huge bodies are refused with a
//! message instead of a 500.
use crate::serve::{self, Serve};
use crate::support::{audit_entries, error_json, message_of, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;

/// Statuses of many answers, counted.
fn tally(statuses: Vec<StatusCode>) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for status in statuses {
        *counts.entry(status.as_u16()).or_default() += 1;
    }
    counts
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn parallel_wrong_passwords_are_verified_at_most_five_times(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    let attempts = (0..60).map(|i| {
        let app = &app;
        async move {
            let client = app.client();
            app.login(&client, "ann", &format!("wrong-{i}"))
                .await
                .status()
        }
    });
    let counts = tally(futures_util::future::join_all(attempts).await);
    assert_eq!(counts.get(&400), Some(&5), "checked passwords: {counts:?}");
    assert_eq!(counts.get(&429), Some(&55), "{counts:?}");
    let failures = audit_entries(&app.db, "login").await;
    assert_eq!(failures.len(), 5, "verified attempts: {failures:?}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn failures_from_another_address_do_not_lock_the_owner_out(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    // Someone at 127.0.0.2 guesses until refused.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    for i in 0..6 {
        app.login(&elsewhere, "ann", &format!("guess-{i}")).await;
    }
    let locked = app.login(&elsewhere, "ann", "password-123").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    // Ann, at 127.0.0.1, signs in.
    let ann = app.client();
    let signed_in = app.login(&ann, "ann", "password-123").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn bad_input_is_refused_with_a_4xx_naming_the_problem(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("boss", "admin").await;

    // A NUL character in the sign-in form.
    let nul = app.login(&app.client(), "ann\0", "password-123").await;
    assert_eq!(nul.status(), StatusCode::BAD_REQUEST);
    let error = error_json(nul).await;
    assert!(message_of(&error).contains("NUL"), "{error}");

    // A server function without its argument, or with one it cannot read.
    let missing = app.call(&admin, "admin/list_sessions", &[]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let unknown = app
        .call(
            &admin,
            "sessions/change",
            &[
                ("session_id", "00000000-0000-0000-0000-000000000000"),
                ("change", "Explode"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);

    // A body past the limit.
    let huge = admin
        .post(app.url("/rpc/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The Developer API: a NUL in the key, and a body past its limit.
    let client = reqwest::Client::new();
    let nul_key = client
        .post(app.url("/api/public/get_images"))
        .json(&json!({"api_key": "x\u{0}y", "api_key_secret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(nul_key.status(), StatusCode::BAD_REQUEST);
    let message = nul_key.text().await.unwrap();
    assert!(message.contains("api_key"), "{message}");
    let big = client
        .post(app.url("/api/public/get_images"))
        .json(&json!({"api_key": "k", "pad": "x".repeat(600 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_burst_of_wrong_api_keys_is_cheap_and_memory_comes_back(db: PgPool) {
    let mut berth = Serve::start(&db, false);
    berth.wait_ready().await;
    let (key, _) = serve::key(&db).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = berth.rss_mib();

    // 200 requests at once, 100 with made-up keys and 100 with the real key and wrong secrets.
    let client = reqwest::Client::new();
    let requests = (0..200).map(|i| {
        let client = client.clone();
        let url = berth.url("/api/public/get_images");
        let key = if i % 2 == 0 {
            format!("made-up-{i}")
        } else {
            key.clone()
        };
        async move {
            let status = client
                .post(url)
                .json(&json!({"api_key": key, "api_key_secret": format!("guess-{i}")}))
                .send()
                .await
                .map(|response| response.status())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            (i % 2 == 1, status)
        }
    });
    let sampler = async {
        let mut peak = 0f64;
        for _ in 0..100 {
            peak = peak.max(berth.rss_mib());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    };
    let (answers, peak) = tokio::join!(futures_util::future::join_all(requests), sampler);
    let (real, made_up): (Vec<_>, Vec<_>) = answers.into_iter().partition(|(real, _)| *real);
    let real = tally(real.into_iter().map(|(_, status)| status).collect());
    let made_up = tally(made_up.into_iter().map(|(_, status)| status).collect());
    for counts in [&real, &made_up] {
        assert!(
            counts.keys().all(|status| [403, 429].contains(status)),
            "{counts:?}"
        );
    }
    // Only the real key's wrong secrets take Argon2: no more than the limit of them.
    assert!(
        real.get(&403).copied().unwrap_or(0) <= 20,
        "more secrets were verified than the limit allows: {real:?}"
    );
    assert!(peak < 200.0, "RSS peaked at {peak:.0} MiB (idle {idle:.0})");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = berth.rss_mib();
    assert!(
        after < idle + 30.0,
        "RSS stayed at {after:.0} MiB after the burst (idle {idle:.0})"
    );
    berth.stop();
}
