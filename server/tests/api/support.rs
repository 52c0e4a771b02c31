//! What the integration tests share: the real router on 127.0.0.1:0 behind the real listener,
//! clients signed in as users, API keys and rows made directly in the database.
use app::backend::users::{self, NewUser};
use berth::config::{ServeArgs, ServeConfig};
use berth::connections::ConnectionLimits;
use berth::startup::Berth;
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: PgPool,
    pub manager: Arc<berth::manager::Manager>,
    /// The prefix of this app's Redis keys.
    pub redis_prefix: String,
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .expect("REDIS_URL must point at a Redis server (./scripts/test starts one)")
}

/// Starts the real router on an ephemeral port, with its own Redis key prefix.
pub async fn spawn_app(db: PgPool) -> TestApp {
    spawn_app_with_redis(db, &redis_url()).await
}

pub async fn spawn_app_with_redis(db: PgPool, redis_url: &str) -> TestApp {
    let prefix = format!("berth-test:{}:", uuid::Uuid::new_v4());
    spawn_app_with_prefix(db, redis_url, &prefix).await
}

/// Two apps with the same database and prefix act as two replicas of one deployment.
pub async fn spawn_app_with_prefix(db: PgPool, redis_url: &str, prefix: &str) -> TestApp {
    let manager = berth::startup::manager(db.clone(), std::time::Duration::from_secs(1));
    spawn_app_with_manager(db, redis_url, prefix, manager).await
}

/// An app whose manager runs its periodic work once, at start, and then not for an hour: a
/// quiet database, for counting what requests cost.
pub async fn spawn_quiet_app(db: PgPool) -> TestApp {
    let config = berth::manager::ManagerConfig {
        launch_timeout: std::time::Duration::from_secs(60),
        sweep_interval: std::time::Duration::from_secs(3600),
        launches_per_agent: berth::startup::LAUNCHES_PER_AGENT,
    };
    let manager = berth::manager::Manager::new(db.clone(), config);
    let prefix = format!("berth-test:{}:", uuid::Uuid::new_v4());
    spawn_app_with_manager(db, &redis_url(), &prefix, manager).await
}

/// An app whose manager reaches agents through `agents` (a fake agent, for the state
/// machine's races).
pub async fn spawn_app_with_agents(
    db: PgPool,
    agents: Arc<dyn berth::manager::agent_client::AgentClient>,
) -> TestApp {
    let config = berth::manager::ManagerConfig {
        launch_timeout: std::time::Duration::from_secs(60),
        sweep_interval: std::time::Duration::from_secs(1),
        launches_per_agent: berth::startup::LAUNCHES_PER_AGENT,
    };
    let manager = berth::manager::Manager::with_agent_client(db.clone(), config, agents);
    let prefix = format!("berth-test:{}:", uuid::Uuid::new_v4());
    spawn_app_with_manager(db, &redis_url(), &prefix, manager).await
}

/// An app whose listener has these limits (the connection cap, header and idle timeouts).
pub async fn spawn_app_with_limits(db: PgPool, limits: ConnectionLimits) -> TestApp {
    let manager = berth::startup::manager(db.clone(), std::time::Duration::from_secs(1));
    let prefix = format!("berth-test:{}:", uuid::Uuid::new_v4());
    spawn_app_with(db, &redis_url(), &prefix, manager, |config| {
        config.connection_limits = limits
    })
    .await
}

/// An app whose configuration file sets `settings` (TOML, keys as in berth.toml), read by the
/// real resolver.
pub async fn spawn_app_with_file(db: PgPool, settings: &str) -> TestApp {
    let file = std::env::temp_dir().join(format!("berth-test-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, settings).unwrap();
    let manager = berth::startup::manager(db.clone(), std::time::Duration::from_secs(1));
    let prefix = format!("berth-test:{}:", uuid::Uuid::new_v4());
    let app = spawn_app_with_args(
        db,
        &redis_url(),
        &prefix,
        manager,
        |args| args.config = file.clone(),
        |_| {},
    )
    .await;
    let _ = std::fs::remove_file(&file);
    app
}

async fn spawn_app_with_manager(
    db: PgPool,
    redis_url: &str,
    prefix: &str,
    manager: Arc<berth::manager::Manager>,
) -> TestApp {
    spawn_app_with(db, redis_url, prefix, manager, |_| {}).await
}

/// Berth as `berth serve` assembles and runs it (`berth::startup::Berth`), on 127.0.0.1:0,
/// from a configuration the real resolver made; only the first-run bootstrap (first admin,
/// default images) and the embedded agent are left out, which tests set up themselves.
async fn spawn_app_with(
    db: PgPool,
    redis_url: &str,
    prefix: &str,
    manager: Arc<berth::manager::Manager>,
    configure: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    spawn_app_with_args(db, redis_url, prefix, manager, |_| {}, configure).await
}

async fn spawn_app_with_args(
    db: PgPool,
    redis_url: &str,
    prefix: &str,
    manager: Arc<berth::manager::Manager>,
    arguments: impl FnOnce(&mut ServeArgs),
    configure: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    let mut config = test_config(&db, redis_url, prefix, arguments);
    configure(&mut config);
    let redis = berth::startup::connect_redis(redis_url)
        .await
        .expect("redis");
    let berth = Berth::assemble(&config, db.clone(), redis, manager.clone()).expect("assemble");
    let listener = tokio::net::TcpListener::bind(config.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Err(error) = berth.run(&config, listener, std::future::pending()).await {
            panic!("the test server stopped: {error}");
        }
    });
    TestApp {
        addr,
        db,
        manager,
        redis_prefix: prefix.to_owned(),
    }
}

/// `berth serve --addr 127.0.0.1:0 --no-local-agent` with this database, Redis and prefix,
/// through the same resolver (and defaults) as the command line.
fn test_config(
    db: &PgPool,
    redis_url: &str,
    prefix: &str,
    arguments: impl FnOnce(&mut ServeArgs),
) -> ServeConfig {
    let mut args = ServeArgs {
        addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        database_url: Some(sqlx::ConnectOptions::to_url_lossy(&*db.connect_options()).to_string()),
        redis_url: Some(redis_url.to_owned()),
        redis_prefix: Some(prefix.to_owned()),
        agent_interval: Some(1),
        no_local_agent: true,
        ..ServeArgs::default()
    };
    arguments(&mut args);
    args.resolve().expect("test configuration")
}

/// A redis-server of the test's own on a free port, so the test can stop it.
pub struct PrivateRedis {
    child: std::process::Child,
    pub url: String,
}

impl PrivateRedis {
    /// Starts it and waits until it answers.
    pub async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..50 {
            let client = redis::Client::open(url.as_str()).unwrap();
            if client.get_multiplexed_async_connection().await.is_ok() {
                return PrivateRedis { child, url };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the private redis-server did not start");
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestApp {
    /// Each admin server function answers 403 to `user` (a signed-in non-admin) and 401 to an
    /// anonymous client.
    pub async fn assert_admin_only(&self, user: &Client, calls: &[(&str, Vec<(&str, &str)>)]) {
        let anonymous = self.client();
        for (endpoint, form) in calls {
            assert_eq!(
                self.call(user, endpoint, form).await.status(),
                StatusCode::FORBIDDEN,
                "{endpoint}"
            );
            assert_eq!(
                self.call(&anonymous, endpoint, form).await.status(),
                StatusCode::UNAUTHORIZED,
                "{endpoint}"
            );
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A browser-like client: keeps cookies, does not follow redirects.
    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub async fn create_user(&self, username: &str, password: &str, role: &str) -> uuid::Uuid {
        users::create(
            &self.db,
            NewUser {
                username: username.into(),
                password: password.into(),
                role: role.into(),
                ..NewUser::default()
            },
        )
        .await
        .expect("create user")
    }

    /// Calls a server function the way the browser does (form-encoded POST).
    pub async fn call(&self, client: &Client, endpoint: &str, form: &[(&str, &str)]) -> Response {
        client
            .post(self.url(&format!("/rpc/{endpoint}")))
            .header(header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, client: &Client, username: &str, password: &str) -> Response {
        self.call(
            client,
            "login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// A client signed in as a new user with the given role.
    pub async fn signed_in(&self, username: &str, role: &str) -> (Client, uuid::Uuid) {
        let id = self.create_user(username, "password-123", role).await;
        let client = self.client();
        let response = self.login(&client, username, "password-123").await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login failed: {}",
            response.text().await.unwrap()
        );
        (client, id)
    }
}

/// The `name=value` pair of a sign-in's cookie, as a client sends it back.
pub fn cookie_pair(response: &Response) -> String {
    response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The JSON error a failed server function returns.
pub async fn error_json(response: Response) -> serde_json::Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// The message of an AppError as serialized (externally tagged enum).
pub fn message_of(error: &serde_json::Value) -> String {
    error
        .as_object()
        .and_then(|object| object.values().next())
        .map(|inner| match inner {
            serde_json::Value::String(text) => text.clone(),
            other => other
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned(),
        })
        .or_else(|| error.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A fresh credential for the agent named `name`, registering it if it is not yet (the one it
/// had stops working), as `berth serve` does for its embedded agent.
pub async fn agent_credential(db: &PgPool, name: &str) -> String {
    app::backend::agent_credentials::issue_for_embedded(db, name)
        .await
        .expect("issue an agent credential")
}

/// Registers an image directly in the database (1 core, 1 GiB).
pub async fn insert_image(db: &PgPool, friendly_name: &str) -> uuid::Uuid {
    let image_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO images (image_id, name, friendly_name, cores, memory) VALUES ($1, 'berth/desktop:latest', $2, 1, $3)",
    )
    .bind(image_id)
    .bind(friendly_name)
    .bind(1i64 << 30)
    .execute(db)
    .await
    .expect("insert image");
    image_id
}

/// Inserts a session row directly, as if the manager had placed it (or not, with no server).
pub async fn insert_session(
    db: &PgPool,
    user_id: uuid::Uuid,
    image_id: uuid::Uuid,
    server_id: Option<uuid::Uuid>,
    status: &str,
    cores: f64,
    memory: i64,
) -> uuid::Uuid {
    let session_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO sessions (session_id, user_id, image_id, server_id, session_secret, operational_status,
                            operational_message, operational_progress, cores, memory, expiration_date)
         VALUES ($1, $2, $3, $4, 'secret', $5, 'Test session', 100, $6, $7, now() + interval '1 hour')",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(image_id)
    .bind(server_id)
    .bind(status)
    .bind(cores)
    .bind(memory)
    .execute(db)
    .await
    .expect("insert kasm");
    session_id
}

/// The audit entries with `action`, as (actor, target).
pub async fn audit_entries(db: &PgPool, action: &str) -> Vec<(Option<uuid::Uuid>, String)> {
    sqlx::query_as(
        "SELECT actor_user_id, target FROM audit_log WHERE action = $1 ORDER BY audit_id",
    )
    .bind(action)
    .fetch_all(db)
    .await
    .unwrap()
}

/// An API key and its secret.
pub type ApiKey = (String, String);

/// A Developer API key with these permissions, made directly in the database.
pub async fn api_key(app: &TestApp, permissions: &[&str], read_only: bool) -> ApiKey {
    let admin: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM users LIMIT 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let permissions: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    app::backend::api_keys::create(&app.db, "test", &permissions, read_only, None, admin)
        .await
        .unwrap()
}

/// POSTs to /api/public/<endpoint> with the key; the raw answer.
pub async fn api_post(
    app: &TestApp,
    endpoint: &str,
    (key, secret): &ApiKey,
    mut body: Value,
) -> reqwest::Response {
    body["api_key"] = json!(key);
    body["api_key_secret"] = json!(secret);
    reqwest::Client::new()
        .post(app.url(&format!("/api/public/{endpoint}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// POSTs to /api/public/<endpoint>; the status and the JSON answer (null when not JSON).
pub async fn api_call(
    app: &TestApp,
    endpoint: &str,
    key: &ApiKey,
    body: Value,
) -> (StatusCode, Value) {
    let response = api_post(app, endpoint, key, body).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}
