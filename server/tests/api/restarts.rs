//! `berth serve` as real processes (with the embedded agent and real Docker) that are stopped,
//! killed and restarted: sessions survive, interrupted launches are finished or failed, and of
//! two replicas one runs the periodic jobs, the other taking over when it dies.
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
            .env("REDIS_URL", crate::support::redis_url())
            .env(
                "BERTH_REDIS_PREFIX",
                format!("berth-test:{}:", Uuid::new_v4()),
            )
            .env("BERTH_ADMIN_PASSWORD", "admin-password-1")
            .env("BERTH_AGENT_INTERVAL", "1")
            .env("BERTH_AGENT_TOKEN", "restart-test-token")
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
struct Api<'a> {
    serve: &'a Serve,
    key: (String, String),
}

impl Api<'_> {
    async fn call(&self, endpoint: &str, mut body: Value) -> (StatusCode, Value) {
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

    async fn ok(&self, endpoint: &str, body: Value) -> Value {
        let (status, reply) = self.call(endpoint, body).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: {reply}");
        reply
    }
}

async fn key(db: &PgPool) -> (String, String) {
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

async fn status(db: &PgPool, kasm_id: &str) -> (String, String) {
    sqlx::query_as("SELECT operational_status, operational_message FROM kasms WHERE kasm_id = $1")
        .bind(kasm_id.parse::<Uuid>().unwrap())
        .fetch_one(db)
        .await
        .unwrap()
}

async fn wait_until<F, Fut>(what: &str, seconds: u64, mut probe: F)
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

async fn wait_status(db: &PgPool, kasm_id: &str, want: SessionStatus) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (now, message) = status(db, kasm_id).await;
        if now == want.as_str() {
            return;
        }
        assert!(now != "deleted", "{kasm_id} ended: {message}");
        assert!(
            Instant::now() < deadline,
            "{kasm_id} never {want}: {now} {message}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Launches a Desktop for a new user through the Developer API; (user_id, kasm_id).
async fn launch(api: &Api<'_>, db: &PgPool, username: &str) -> (String, String) {
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

async fn exec(api: &Api<'_>, user_id: &str, kasm_id: &str, cmd: &str) -> String {
    let reply = api
        .ok(
            "exec_command_kasm",
            json!({"user_id": user_id, "kasm_id": kasm_id, "exec_config": {"cmd": cmd}}),
        )
        .await;
    assert_eq!(reply["exit_code"], 0, "{cmd}: {reply}");
    reply["stdout"].as_str().unwrap().to_owned()
}

/// The session containers of this test's deployment: (kasm_id, container state).
fn deployment_containers(deployment: &str) -> Vec<(String, String)> {
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

async fn deployment_id(db: &PgPool) -> String {
    sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
        .fetch_one(db)
        .await
        .unwrap()
}

/// Waits until the embedded agent of the (re)started server has checked in `count` times.
async fn wait_check_ins(db: &PgPool, since: chrono::DateTime<chrono::Utc>, count: i64) {
    wait_until("the agent's check-ins", 60, || async {
        let last: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT max(last_checkin) FROM servers")
                .fetch_one(db)
                .await
                .unwrap();
        last.is_some_and(|at| at > since + chrono::Duration::seconds(count))
    })
    .await;
}

/// Once the embedded agent checked in, overrides its capacity so that the test's desktops fit
/// on a small machine.
async fn room_for_desktops(db: &PgPool) {
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

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_restarted_server_keeps_running_paused_and_stopped_sessions_with_their_files(db: PgPool) {
    let mut serve = Serve::start(&db, true);
    serve.wait_ready().await;
    let api = Api {
        serve: &serve,
        key: key(&db).await,
    };
    room_for_desktops(&db).await;
    let mut sessions = Vec::new();
    for name in ["rita", "pat", "stu"] {
        sessions.push(launch(&api, &db, name).await);
    }
    for (user_id, kasm_id) in &sessions {
        wait_status(&db, kasm_id, SessionStatus::Running).await;
        exec(
            &api,
            user_id,
            kasm_id,
            &format!("echo {kasm_id} > ~/kept.txt"),
        )
        .await;
    }
    let (paused, stopped) = (&sessions[1], &sessions[2]);
    api.ok(
        "pause_kasm",
        json!({"user_id": paused.0, "kasm_id": paused.1}),
    )
    .await;
    api.ok(
        "stop_kasm",
        json!({"user_id": stopped.0, "kasm_id": stopped.1}),
    )
    .await;
    // Older than a minute (the old rule ended sessions older than its grace period on the
    // first check-in after a restart).
    sqlx::query("UPDATE kasms SET start_date = start_date - interval '2 minutes'")
        .execute(&db)
        .await
        .unwrap();
    drop(api);

    serve.stop();
    serve.restart().await;
    let restarted = chrono::Utc::now();
    wait_check_ins(&db, restarted, 6).await;
    let api = Api {
        serve: &serve,
        key: key(&db).await,
    };
    let expected = ["running", "paused", "stopped"];
    for ((_, kasm_id), want) in sessions.iter().zip(expected) {
        assert_eq!(status(&db, kasm_id).await.0, want, "{}", serve.log_text());
    }
    for (user_id, kasm_id) in &sessions[1..] {
        api.ok(
            "resume_kasm",
            json!({"user_id": user_id, "kasm_id": kasm_id}),
        )
        .await;
        wait_status(&db, kasm_id, SessionStatus::Running).await;
    }
    for (user_id, kasm_id) in &sessions {
        assert_eq!(
            exec(&api, user_id, kasm_id, "cat ~/kept.txt").await,
            format!("{kasm_id}\n")
        );
        api.ok(
            "destroy_kasm",
            json!({"user_id": user_id, "kasm_id": kasm_id}),
        )
        .await;
    }
    let deployment = deployment_id(&db).await;
    assert!(deployment_containers(&deployment).is_empty());
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_server_killed_mid_launch_finishes_or_fails_it_and_leaves_no_orphan(db: PgPool) {
    let mut serve = Serve::start(&db, true);
    serve.wait_ready().await;
    let api = Api {
        serve: &serve,
        key: key(&db).await,
    };
    room_for_desktops(&db).await;
    let (user_id, kasm_id) = launch(&api, &db, "kim").await;
    wait_until("the container to be starting", 60, || async {
        status(&db, &kasm_id).await.0 == "starting"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(api);
    serve.kill();

    serve.restart().await;
    let api = Api {
        serve: &serve,
        key: key(&db).await,
    };
    wait_until("the interrupted launch to be settled", 90, || async {
        let (now, _) = status(&db, &kasm_id).await;
        now == "running" || now == "deleted"
    })
    .await;
    let (now, message) = status(&db, &kasm_id).await;
    assert!(!message.is_empty());
    let deployment = deployment_id(&db).await;
    // Every container of the deployment belongs to a live session (the agent's reconcile
    // removes orphans at its next check-in).
    wait_until("no orphan container", 30, || async {
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT kasm_id::text FROM kasms WHERE operational_status <> 'deleted'",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        deployment_containers(&deployment)
            .iter()
            .all(|(kasm, _)| live.contains(kasm))
    })
    .await;
    if now == "running" {
        assert_eq!(exec(&api, &user_id, &kasm_id, "echo up").await, "up\n");
        api.ok(
            "destroy_kasm",
            json!({"user_id": user_id, "kasm_id": kasm_id}),
        )
        .await;
    } else {
        assert!(message.contains("launch it again"), "{message}");
    }
}

/// Whether some connection of this database holds the periodic jobs' lease.
async fn lease_holder(db: &PgPool) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND l.objid = 7302 AND l.granted AND d.datname = current_database()",
    )
    .fetch_optional(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn of_two_replicas_one_runs_the_jobs_and_the_other_takes_over_when_it_dies(db: PgPool) {
    let mut first = Serve::start(&db, false);
    first.wait_ready().await;
    wait_until("the first replica to hold the lease", 30, || async {
        lease_holder(&db).await.is_some()
    })
    .await;
    let first_holder = lease_holder(&db).await;
    let second = Serve::start(&db, false);
    second.wait_ready().await;
    // Both serve the API; the lease stays where it is.
    for serve in [&first, &second] {
        let api = Api {
            serve,
            key: key(&db).await,
        };
        api.ok("get_kasms", json!({})).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lease_holder(&db).await, first_holder);

    // An expired session for the reaper (which runs under the lease only).
    let admin: Uuid = sqlx::query_scalar("SELECT user_id FROM users LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let image: Uuid = sqlx::query_scalar("SELECT image_id FROM images LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    first.kill();
    let killed = Instant::now();
    let kasm_id =
        crate::support::insert_kasm(&db, admin, image, None, "running", 1.0, 1 << 30).await;
    sqlx::query(
        "UPDATE kasms SET expiration_date = now() - interval '1 second' WHERE kasm_id = $1",
    )
    .bind(kasm_id)
    .execute(&db)
    .await
    .unwrap();
    wait_until("the second replica to take the lease", 15, || async {
        lease_holder(&db)
            .await
            .is_some_and(|pid| Some(pid) != first_holder)
    })
    .await;
    wait_until("the expired session to be reaped", 15, || async {
        status(&db, &kasm_id.to_string()).await.0 == "deleted"
    })
    .await;
    assert!(killed.elapsed() < Duration::from_secs(20));
    drop(second);
}
