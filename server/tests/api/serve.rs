//! `berth serve` as a real process for tests: started on a fixed address against the test's
//! own database, stopped (as Ctrl-C would), killed (-9) and restarted.
use app::model::SessionStatus;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// A `berth serve` process on a fixed address (so a restart comes back where it was).
pub struct Serve {
    child: Option<Child>,
    pub addr: SocketAddr,
    database_url: String,
    local_agent: bool,
    /// Its Redis keys' prefix, the same across restarts (as a deployment's).
    pub redis_prefix: String,
    log: std::path::PathBuf,
}

/// The URL of the test's own database (sqlx::test made it beside DATABASE_URL's).
pub fn database_url(db: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (url, query) = base.split_once('?').unwrap_or((&base, ""));
    let server = &url[..url.rfind('/').expect("a database URL has a path")];
    let options = db.connect_options();
    let name = options.get_database().expect("a test database");
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Serve {
    pub fn start(db: &PgPool, local_agent: bool) -> Serve {
        let mut serve = Serve {
            child: None,
            addr: free_addr(),
            database_url: database_url(db),
            local_agent,
            redis_prefix: format!("berth-test:{}:", Uuid::new_v4()),
            log: std::env::temp_dir().join(format!("berth-serve-{}.log", Uuid::new_v4())),
        };
        serve.spawn();
        serve
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("serve")
            .env("BERTH_CONFIG", "/nonexistent/berth.toml")
            .env("BERTH_ADDR", self.addr.to_string())
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", std::env::var("REDIS_URL").expect("REDIS_URL"))
            .env("BERTH_REDIS_PREFIX", &self.redis_prefix)
            .env("BERTH_ADMIN_PASSWORD", "admin-password-1")
            .env("BERTH_AGENT_INTERVAL", "1")
            .env_remove("BERTH_AGENT_TOKEN")
            .env(
                "BERTH_NO_LOCAL_AGENT",
                if self.local_agent { "false" } else { "true" },
            )
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start berth serve");
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signs `client` in as `username` (the password `launch` gives its users).
    pub async fn sign_in(&self, client: &reqwest::Client, username: &str) -> reqwest::Response {
        let response = client
            .post(self.url("/rpc/login"))
            .form(&[("username", username), ("password", "password-123")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response
    }

    /// Its process id (while it runs).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The process's resident memory now, in MiB.
    pub fn rss_mib(&self) -> f64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib / 1024.0
    }

    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(self.url("/readyz")).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("berth serve never became ready:\n{}", self.log_text());
    }

    /// Stops it as Ctrl-C would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.spawn();
        self.wait_ready().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A Developer API client for one process.
pub struct Api<'a> {
    pub serve: &'a Serve,
    pub key: (String, String),
}

impl Api<'_> {
    pub async fn call(&self, endpoint: &str, mut body: Value) -> (StatusCode, Value) {
        body["api_key"] = json!(self.key.0);
        body["api_key_secret"] = json!(self.key.1);
        let response = reqwest::Client::new()
            .post(self.serve.url(&format!("/api/public/{endpoint}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn ok(&self, endpoint: &str, body: Value) -> Value {
        let (status, reply) = self.call(endpoint, body).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: {reply}");
        reply
    }
}

pub async fn key(db: &PgPool) -> (String, String) {
    let admin: Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE role = 'admin' LIMIT 1")
        .fetch_one(db)
        .await
        .unwrap();
    let permissions: Vec<String> = [
        "User",
        "Users Auth Session",
        "Sessions View",
        "Sessions Modify",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    app::backend::api_keys::create(db, "restarts", &permissions, false, None, admin)
        .await
        .unwrap()
}

pub async fn status(db: &PgPool, session_id: &str) -> (String, String) {
    sqlx::query_as(
        "SELECT operational_status, operational_message FROM sessions WHERE session_id = $1",
    )
    .bind(session_id.parse::<Uuid>().unwrap())
    .fetch_one(db)
    .await
    .unwrap()
}

pub async fn wait_until<F, Fut>(what: &str, seconds: u64, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn wait_status(db: &PgPool, session_id: &str, want: SessionStatus) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (now, message) = status(db, session_id).await;
        if now == want.as_str() {
            return;
        }
        assert!(now != "deleted", "{session_id} ended: {message}");
        assert!(
            Instant::now() < deadline,
            "{session_id} never {want}: {now} {message}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Launches a Desktop for a new user through the Developer API; (user_id, session_id).
pub async fn launch(api: &Api<'_>, db: &PgPool, username: &str) -> (String, String) {
    let user_id = app::backend::users::create(
        db,
        app::backend::users::NewUser {
            username: username.into(),
            password: "password-123".into(),
            role: "user".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .simple()
    .to_string();
    let desktop: Uuid =
        sqlx::query_scalar("SELECT image_id FROM images WHERE friendly_name = 'Desktop'")
            .fetch_one(db)
            .await
            .unwrap();
    let reply = api
        .ok(
            "request_kasm",
            json!({"user_id": user_id, "image_id": desktop.simple().to_string()}),
        )
        .await;
    (user_id, reply["kasm_id"].as_str().unwrap().to_owned())
}

pub async fn exec(api: &Api<'_>, user_id: &str, session_id: &str, cmd: &str) -> String {
    let reply = api
        .ok(
            "exec_command_kasm",
            json!({"user_id": user_id, "kasm_id": session_id, "exec_config": {"cmd": cmd}}),
        )
        .await;
    assert_eq!(reply["exit_code"], 0, "{cmd}: {reply}");
    reply["stdout"].as_str().unwrap().to_owned()
}

/// The session containers of this test's deployment: (session_id, container state).
pub fn deployment_containers(deployment: &str) -> Vec<(String, String)> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=berth.kasm_id",
            "--format",
            "{{.Label \"berth.kasm_id\"}} {{.Label \"berth.agent\"}} {{.State}}",
        ])
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (kasm, owner, state) = (fields.next()?, fields.next()?, fields.next()?);
            owner
                .ends_with(&format!("@{deployment}"))
                .then(|| (kasm.to_owned(), state.to_owned()))
        })
        .collect()
}

pub async fn deployment_id(db: &PgPool) -> String {
    sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
        .fetch_one(db)
        .await
        .unwrap()
}

/// The latest check-in of the agent named `hostname` (of any agent with None) as Berth knows
/// it: the later of its row's (the last check-in that changed something) and the one kept in
/// Redis under `prefix` (`store::presence`, where unchanged check-ins are kept).
pub async fn last_check_in(
    db: &PgPool,
    prefix: &str,
    hostname: Option<&str>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let rows: Vec<(uuid::Uuid, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "SELECT server_id, last_checkin FROM servers WHERE $1::text IS NULL OR hostname = $1",
    )
    .bind(hostname)
    .fetch_all(db)
    .await
    .unwrap();
    let ids: Vec<uuid::Uuid> = rows.iter().map(|row| row.0).collect();
    let mut redis = berth::startup::connect_redis(&std::env::var("REDIS_URL").expect("REDIS_URL"))
        .await
        .unwrap();
    let seen = store::presence::last_seen(&mut redis, prefix, &ids)
        .await
        .unwrap();
    rows.iter()
        .zip(seen)
        .flat_map(|((_, row), seen)| [*row, seen.and_then(chrono::DateTime::from_timestamp_millis)])
        .flatten()
        .max()
}

/// Waits until the embedded agent of the (re)started server has checked in `count` times.
pub async fn wait_check_ins(
    serve: &Serve,
    db: &PgPool,
    since: chrono::DateTime<chrono::Utc>,
    count: i64,
) {
    wait_until("the agent's check-ins", 60, || async {
        let last = last_check_in(db, &serve.redis_prefix, None).await;
        last.is_some_and(|at| at > since + chrono::Duration::seconds(count))
    })
    .await;
}

/// Once the embedded agent checked in, overrides its capacity so that the test's desktops fit
/// on a small machine.
pub async fn room_for_desktops(db: &PgPool) {
    wait_until("the embedded agent to check in", 60, || async {
        sqlx::query("UPDATE servers SET cores_override = 64, memory_override = 68719476736")
            .execute(db)
            .await
            .unwrap()
            .rows_affected()
            > 0
    })
    .await;
}
