//! 200 MB up and 200 MB down through `berth serve` (a process of its own, with its embedded
//! agent, so its resident memory is measured alone): the file arrives intact, and the
//! process's RSS stays within 50 MB of idle throughout (the bytes are streamed, never
//! collected).
use crate::serve::{self, exec, launch, room_for_desktops, wait_status, Api, Serve};
use app::model::SessionStatus;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::StatusCode;
use sha2::Digest;
use sqlx::PgPool;
use std::time::{Duration, Instant};

const SIZE: u64 = 200 * 1_000_000;
const CHUNK: usize = 1 << 20;
/// How far above idle the server's RSS may go.
const HEADROOM_MIB: f64 = 50.0 * 1_000_000.0 / 1_048_576.0;

/// `SIZE` bytes, made chunk by chunk as they are sent (never all in memory), hashed on the way.
fn generated(hasher: std::sync::Arc<std::sync::Mutex<sha2::Sha256>>) -> reqwest::Body {
    let chunks = (0..SIZE.div_ceil(CHUNK as u64)).map(move |i| {
        let len = (SIZE - i * CHUNK as u64).min(CHUNK as u64) as usize;
        let chunk: Vec<u8> = (0..len)
            .map(|j| (i as usize * 31 + j * 7 + j / 4093) as u8)
            .collect();
        hasher.lock().unwrap().update(&chunk);
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// Samples the server's RSS until `done` flips; the peak.
async fn peak_while(berth: &Serve, done: &std::sync::atomic::AtomicBool) -> f64 {
    let mut peak = 0f64;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        peak = peak.max(berth.rss_mib());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    peak
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn two_hundred_megabytes_each_way_keep_the_servers_memory_flat(db: PgPool) {
    let berth = Serve::start(&db, true);
    berth.wait_ready().await;
    let api = Api {
        serve: &berth,
        key: serve::key(&db).await,
    };
    room_for_desktops(&db).await;
    let (user_id, session_id) = launch(&api, &db, "kim").await;
    wait_status(&db, &session_id, SessionStatus::Running).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    berth.sign_in(&client, "kim").await;
    let session_uuid: uuid::Uuid = session_id.parse().unwrap();
    let url = |rest: &str| berth.url(&format!("/files/{session_uuid}{rest}"));
    // Warm up (first connections, the exec path), then let the process settle.
    let warm = client
        .put(url("/uploads/warm"))
        .body("warm")
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = berth.rss_mib();

    let hasher = std::sync::Arc::new(std::sync::Mutex::new(sha2::Sha256::new()));
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = Instant::now();
    let upload = async {
        let response = client
            .put(url("/uploads/big.bin"))
            .header(reqwest::header::CONTENT_LENGTH, SIZE)
            .body(generated(hasher.clone()))
            .send()
            .await
            .unwrap();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        response
    };
    let (response, upload_peak) = tokio::join!(upload, peak_while(&berth, &done));
    let upload_secs = started.elapsed().as_secs_f64();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
    let sent = format!("{:x}", hasher.lock().unwrap().clone().finalize());
    let stored = exec(
        &api,
        &user_id,
        &session_id,
        "sha256sum ~/Uploads/big.bin | cut -d' ' -f1",
    )
    .await;
    assert_eq!(stored.trim(), sent);

    exec(
        &api,
        &user_id,
        &session_id,
        "mkdir -p ~/Downloads && mv ~/Uploads/big.bin ~/Downloads/",
    )
    .await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = Instant::now();
    let download = async {
        let response = client.get(url("/downloads/big.bin")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.content_length(), Some(SIZE));
        let mut hasher = sha2::Sha256::new();
        let mut received = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            received += chunk.len() as u64;
            hasher.update(&chunk);
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (received, format!("{:x}", hasher.finalize()))
    };
    let ((received, got), download_peak) = tokio::join!(download, peak_while(&berth, &done));
    let download_secs = started.elapsed().as_secs_f64();
    assert_eq!((received, got), (SIZE, sent));
    println!(
        "idle {idle:.1} MiB; upload {upload_secs:.1} s, peak {upload_peak:.1} MiB; download {download_secs:.1} s, peak {download_peak:.1} MiB"
    );
    for (what, peak) in [("upload", upload_peak), ("download", download_peak)] {
        assert!(
            peak < idle + HEADROOM_MIB,
            "the server's RSS peaked at {peak:.1} MiB during the {what} (idle {idle:.1} MiB)"
        );
    }
    api.ok(
        "destroy_kasm",
        serde_json::json!({"user_id": user_id, "kasm_id": session_id}),
    )
    .await;
}
