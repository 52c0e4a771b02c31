//! File transfer (issue #15) against a real Desktop session: uploads land in the container's
//! `~/Uploads` (checked with `docker exec`, independently of Berth), files made in the container
//! download intact; only the owner transfers, as the groups allow, within the size limit; path
//! and symbolic-link tricks are refused with a 400 naming the problem.
use crate::docker_sessions::{
    agent_config, image_id, unique, wait_online_with_images, wait_running,
};
use crate::support::{spawn_app, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub struct Launched {
    pub app: TestApp,
    pub agent: tokio::task::JoinHandle<()>,
    pub owner: Client,
    pub owner_id: Uuid,
    pub session_id: Uuid,
    pub container: String,
}

/// An app with an agent and the signed-in user "ann" with a running Desktop session (its
/// `~/Uploads` and `~/Downloads` in transfer folders on the host).
pub async fn launch(db: PgPool) -> Launched {
    launch_with(db, |_| {}).await
}

/// As [`launch`], with the agent's transfer folders switched off: the session's folders are
/// in the container, and transfers go through `docker exec` (as for sessions made before
/// transfer folders).
pub async fn launch_through_exec(db: PgPool) -> Launched {
    launch_with(db, |storage| storage.transfer_root = None).await
}

async fn launch_with(
    db: PgPool,
    storage: impl FnOnce(&mut berth::agent::storage::StorageConfig),
) -> Launched {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let mut config = agent_config(&app, &unique("agent")).await;
    storage(&mut config.storage);
    let name = config.name.clone();
    let agent = tokio::spawn(async move { berth::agent::run(config).await.unwrap() });
    wait_online_with_images(&app, &name).await;
    let (owner, owner_id) = app.signed_in("ann", "user").await;
    let desktop = image_id(&app.db, "Desktop").await;
    let session_id = app
        .manager
        .request_session(owner_id, desktop)
        .await
        .unwrap();
    wait_running(&app.db, session_id).await;
    let container: String =
        sqlx::query_scalar("SELECT container_id FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    Launched {
        app,
        agent,
        owner,
        owner_id,
        session_id,
        container,
    }
}

impl Launched {
    pub fn url(&self, rest: &str) -> String {
        self.app.url(&format!("/files/{}{rest}", self.session_id))
    }

    pub async fn upload(&self, client: &Client, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = client
            .put(self.url(&format!("/uploads/{name}")))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, client: &Client, rest: &str) -> reqwest::Response {
        client.get(self.url(rest)).send().await.unwrap()
    }

    pub async fn finish(self) {
        let _ = self
            .app
            .manager
            .destroy_session(self.session_id, "test over")
            .await;
        self.agent.abort();
    }
}

/// Runs `command` as the container's user with the docker CLI (independent of Berth).
pub async fn in_container(container: &str, command: &str) -> String {
    let output = tokio::process::Command::new("docker")
        .args(["exec", container, "sh", "-c", command])
        .output()
        .await
        .expect("docker CLI");
    assert!(output.status.success(), "docker exec {command}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

async fn audit_details(db: &PgPool, action: &str) -> Vec<(Option<Uuid>, String, Value)> {
    sqlx::query_as(
        "SELECT actor_user_id, outcome, details FROM audit_log WHERE action = $1 ORDER BY audit_id",
    )
    .bind(action)
    .fetch_all(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn files_upload_into_uploads_and_download_from_downloads(db: PgPool) {
    let session = launch(db).await;
    let content = pattern(3_000_123);
    let (status, reply) = session
        .upload(&session.owner, "report é 1.bin", content.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply, json!({"name": "report é 1.bin", "size": 3_000_123}));
    let checked = in_container(
        &session.container,
        "cd ~/Uploads && sha256sum 'report é 1.bin' | cut -d' ' -f1; stat -c '%U %s' . 'report é 1.bin'; ls -A",
    )
    .await;
    let lines: Vec<&str> = checked.lines().collect();
    assert_eq!(lines[0], sha256_hex(&content), "{checked}");
    // The folder and the file are the session user's; no temporary file is left.
    assert!(lines[1].starts_with("berth "), "{checked}");
    assert_eq!(lines[2], "berth 3000123", "{checked}");
    assert_eq!(lines[3..], ["report é 1.bin"], "{checked}");
    // Uploading again replaces the file.
    let (status, _) = session
        .upload(&session.owner, "report é 1.bin", b"short".to_vec())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        in_container(&session.container, "cat ~/Uploads/'report é 1.bin'").await,
        "short"
    );

    // A file made in the session downloads intact, listed with its size and time.
    in_container(
        &session.container,
        "mkdir -p ~/Downloads && head -c 5000000 /dev/urandom > ~/Downloads/data.bin && echo hi > ~/Downloads/'a \"b\".txt'",
    )
    .await;
    let expected = in_container(
        &session.container,
        "sha256sum ~/Downloads/data.bin | cut -d' ' -f1",
    )
    .await;
    let listing: Value = session
        .get(&session.owner, "/downloads")
        .await
        .json()
        .await
        .unwrap();
    let files = listing["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"data.bin") && names.contains(&"a \"b\".txt"),
        "{listing}"
    );
    let data = files.iter().find(|f| f["name"] == "data.bin").unwrap();
    assert_eq!(data["size"], 5_000_000);
    assert!(data["modified"].as_str().unwrap().ends_with('Z'), "{data}");

    let response = session.get(&session.owner, "/downloads/data.bin").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(5_000_000));
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        disposition,
        "attachment; filename=\"data.bin\"; filename*=UTF-8''data.bin"
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(format!("{}\n", sha256_hex(&bytes)), expected);
    let response = session
        .get(&session.owner, "/downloads/a%20%22b%22.txt")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "hi\n");
    let response = session.get(&session.owner, "/downloads/missing.txt").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Each transfer is audited: who, the session, the file's name and size.
    let uploads = audit_details(&session.app.db, "file_upload").await;
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].0, Some(session.owner_id));
    assert_eq!(uploads[0].1, "ok");
    assert_eq!(uploads[0].2["name"], "report é 1.bin");
    assert_eq!(uploads[0].2["size"], 3_000_123);
    assert_eq!(uploads[0].2["session_id"], session.session_id.to_string());
    let downloads = audit_details(&session.app.db, "file_download").await;
    assert_eq!(downloads[0].2["name"], "data.bin");
    assert_eq!(downloads[0].2["size"], 5_000_000);
    assert_eq!(downloads.last().unwrap().1, "failed");

    // The files were in the session's transfer folders on the host, which go with it.
    let folder = std::path::Path::new(berth::agent::storage::DEFAULT_TRANSFER_ROOT)
        .join(session.session_id.to_string());
    assert!(folder.join("Uploads/report é 1.bin").is_file());
    session.finish().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while folder.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        !folder.exists(),
        "{} outlived its session",
        folder.display()
    );
}
