//! Sessions in real containers: agents (in-process and as `berth agent` processes) against
//! the real Docker engine and the session images built by images/build.sh.
use crate::serve::last_check_in;
use crate::support::{agent_credential, spawn_app, TestApp};
use app::model::SessionChange;
use berth::agent::{self, AgentConfig};
use bollard::Docker;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::Duration;
use uuid::Uuid;

/// An in-process agent's configuration, with a fresh credential of its own.
pub async fn agent_config(app: &TestApp, name: &str) -> AgentConfig {
    AgentConfig {
        name: name.to_owned(),
        manager_url: app.url(""),
        credential: agent_credential(&app.db, name).await,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_url: None,
        interval: Duration::from_secs(1),
        start_timeout: Duration::from_secs(90),
        instance_id: uuid::Uuid::new_v4(),
        storage: Default::default(),
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8])
}

/// An agent inside the test process.
async fn start_agent(app: &TestApp, name: &str) -> tokio::task::JoinHandle<()> {
    let config = agent_config(app, name).await;
    tokio::spawn(async move {
        agent::run(config).await.unwrap();
    })
}

/// An agent as its own `berth agent` process, its credential in a file only its user reads;
/// killed when dropped.
struct AgentProcess(Child);

impl AgentProcess {
    async fn start(app: &TestApp, name: &str) -> AgentProcess {
        let token_file = std::env::temp_dir().join(format!("berth-agent-token-{}", Uuid::new_v4()));
        std::fs::write(&token_file, agent_credential(&app.db, name).await).unwrap();
        std::fs::set_permissions(
            &token_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["agent", "--manager", &app.url("")])
            .arg("--token-file")
            .arg(&token_file)
            .args(["--name", name, "--listen", "127.0.0.1:0", "--interval", "1"])
            .spawn()
            .expect("start berth agent");
        AgentProcess(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn wait_for<T, F, Fut>(what: &str, seconds: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn server_status(db: &PgPool, name: &str) -> Option<(Uuid, String, Vec<String>)> {
    sqlx::query_as::<_, (Uuid, String, Vec<String>)>(
        "SELECT server_id, status, images_present FROM servers WHERE hostname = $1",
    )
    .bind(name)
    .fetch_optional(db)
    .await
    .unwrap()
}

/// Waits until the agent is online and holds every enabled image.
pub async fn wait_online_with_images(app: &TestApp, name: &str) -> Uuid {
    let wanted: Vec<String> = sqlx::query_scalar("SELECT name FROM images WHERE enabled")
        .fetch_all(&app.db)
        .await
        .unwrap();
    wait_for("the agent to check in with its images", 60, || async {
        match server_status(&app.db, name).await {
            Some((id, status, present))
                if status == "online" && wanted.iter().all(|w| present.contains(w)) =>
            {
                Some(id)
            }
            _ => None,
        }
    })
    .await
}

pub async fn image_id(db: &PgPool, friendly_name: &str) -> Uuid {
    sqlx::query_scalar("SELECT image_id FROM images WHERE friendly_name = $1")
        .bind(friendly_name)
        .fetch_one(db)
        .await
        .unwrap()
}

pub async fn state_of(db: &PgPool, session_id: Uuid) -> (String, String) {
    sqlx::query_as(
        "SELECT operational_status, operational_message FROM sessions WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_one(db)
    .await
    .unwrap()
}

pub async fn wait_running(db: &PgPool, session_id: Uuid) {
    wait_for("the session to run", 120, || async {
        let (status, message) = state_of(db, session_id).await;
        assert_ne!(status, "deleted", "the launch failed: {message}");
        (status == "running").then_some(())
    })
    .await
}

pub async fn docker() -> Docker {
    Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap()
}

/// The container's environment, as Docker reports it.
pub async fn container_env(container: &str) -> Vec<String> {
    docker()
        .await
        .inspect_container(container, None)
        .await
        .unwrap()
        .config
        .and_then(|config| config.env)
        .unwrap_or_default()
}

/// Runs `command` in the container with the docker CLI (independent of Berth) and returns its
/// standard output.
async fn docker_exec(container: &str, command: &str) -> String {
    let output = tokio::process::Command::new("docker")
        .args(["exec", container, "sh", "-c", command])
        .output()
        .await
        .expect("docker CLI");
    assert!(output.status.success(), "docker exec {command}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn container_of(db: &PgPool, session_id: Uuid) -> (String, u16, String) {
    let (container, port, secret): (String, i32, String) = sqlx::query_as(
        "SELECT container_id, port, session_secret FROM sessions WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_one(db)
    .await
    .unwrap();
    (container, port as u16, secret)
}

/// An in-process agent for `app`, online with every enabled image.
pub async fn start_test_agent(app: &TestApp) -> tokio::task::JoinHandle<()> {
    let name = unique("agent");
    let agent = start_agent(app, &name).await;
    wait_online_with_images(app, &name).await;
    agent
}

async fn setup(db: PgPool, agent_name: &str) -> (TestApp, Uuid, tokio::task::JoinHandle<()>) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let agent = start_agent(&app, agent_name).await;
    let server_id = wait_online_with_images(&app, agent_name).await;
    (app, server_id, agent)
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn each_default_image_launches_with_its_limits_streams_and_is_destroyed(db: PgPool) {
    let (app, server_id, agent) = setup(db, &unique("agent")).await;
    let user = app.create_user("ann", "password-123", "user").await;
    sqlx::query("UPDATE settings SET value = '5' WHERE name = 'max_kasms_per_user'")
        .execute(&app.db)
        .await
        .unwrap();
    let docker = docker().await;

    for (friendly_name, nano_cpus, memory) in [
        ("Desktop", 1_000_000_000i64, 2i64 << 30),
        ("Desktop Deluxe", 2_000_000_000, 4 << 30),
        ("Firefox", 1_000_000_000, 2 << 30),
    ] {
        let image = image_id(&app.db, friendly_name).await;
        let session_id = app.manager.request_session(user, image).await.unwrap();
        wait_running(&app.db, session_id).await;
        let (container, port, secret) = container_of(&app.db, session_id).await;

        let inspected = docker.inspect_container(&container, None).await.unwrap();
        let host = inspected.host_config.unwrap();
        assert_eq!(host.nano_cpus, Some(nano_cpus), "{friendly_name}");
        assert_eq!(host.memory, Some(memory), "{friendly_name}");
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        let labels = inspected.config.unwrap().labels.unwrap();
        assert_eq!(labels["berth.kasm_id"], session_id.to_string());
        assert_eq!(labels["berth.user_id"], user.to_string());
        assert_eq!(labels["berth.image_id"], image.to_string());
        let binding = &inspected.network_settings.unwrap().ports.unwrap()
            [berth::agent::runtime::STREAM_PORT]
            .clone()
            .unwrap()[0];
        assert_eq!(
            binding.host_ip.as_deref(),
            Some("127.0.0.1"),
            "published beyond loopback"
        );

        let frame = berth::rfb::first_framebuffer_at(
            "127.0.0.1",
            port,
            Some(&secret),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|error| panic!("{friendly_name}: no framebuffer: {error}"));
        assert!(
            frame.width > 0 && frame.height > 0 && frame.rectangles > 0,
            "{frame:?}"
        );
        // The container speaks RFB with VNC authentication only: another password is refused.
        let refused = berth::rfb::first_framebuffer_at(
            "127.0.0.1",
            port,
            Some("not-the-session-secret"),
            Duration::from_secs(10),
        )
        .await
        .expect_err("a wrong password was accepted");
        assert!(
            matches!(refused, berth::rfb::RfbError::CredentialsRefused(_)),
            "{refused}"
        );

        app.manager
            .destroy_session(session_id, "test")
            .await
            .unwrap();
        assert_eq!(state_of(&app.db, session_id).await.0, "deleted");
        assert!(
            docker.inspect_container(&container, None).await.is_err(),
            "{friendly_name}: container left behind"
        );
    }
    let placed: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE server_id = $1")
        .bind(server_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(placed, 3);
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_killed_agent_goes_offline_within_three_intervals(db: PgPool) {
    let app = spawn_app(db).await;
    let name = unique("doomed");
    let mut process = AgentProcess::start(&app, &name).await;
    wait_for("the agent to come online", 60, || async {
        server_status(&app.db, &name)
            .await
            .filter(|(_, status, _)| status == "online")
            .map(|_| ())
    })
    .await;
    process.kill();
    let killed = tokio::time::Instant::now();
    // Three 1-second intervals, plus one sweep of the manager.
    wait_for("the agent to go offline", 6, || async {
        server_status(&app.db, &name)
            .await
            .filter(|(_, status, _)| status == "offline")
            .map(|_| ())
    })
    .await;
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "marked offline before three intervals passed"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn sessions_are_placed_across_two_agents_by_load(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let (first, second) = (unique("left"), unique("right"));
    let _agents = (
        AgentProcess::start(&app, &first).await,
        AgentProcess::start(&app, &second).await,
    );
    let first_id = wait_online_with_images(&app, &first).await;
    let second_id = wait_online_with_images(&app, &second).await;
    // Give each agent room for exactly one Desktop (1 core, 2 GiB).
    sqlx::query("UPDATE servers SET cores_override = 1, memory_override = $1")
        .bind(2i64 << 30)
        .execute(&app.db)
        .await
        .unwrap();
    let desktop = image_id(&app.db, "Desktop").await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let bob = app.create_user("bob", "password-123", "user").await;
    let carl = app.create_user("carl", "password-123", "user").await;

    let a = app.manager.request_session(ann, desktop).await.unwrap();
    let b = app.manager.request_session(bob, desktop).await.unwrap();
    let servers: Vec<Uuid> =
        sqlx::query_scalar("SELECT server_id FROM sessions WHERE session_id = ANY($1)")
            .bind(vec![a, b])
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(
        servers.contains(&first_id) && servers.contains(&second_id),
        "both sessions went to one agent"
    );

    // Both full: the error names each agent and what it lacks.
    let error = app
        .manager
        .request_session(carl, desktop)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("No resources are available"), "{error}");
    assert!(
        error.contains(&format!("{first}: short by 1 cores"))
            && error.contains(&format!("{second}: short by 1 cores")),
        "{error}"
    );

    // Draining one and freeing its session makes room only there once undrained.
    wait_running(&app.db, a).await;
    wait_running(&app.db, b).await;
    for kasm in [a, b] {
        app.manager.destroy_session(kasm, "test").await.unwrap();
    }
    sqlx::query("UPDATE servers SET draining = true WHERE server_id = $1")
        .bind(first_id)
        .execute(&app.db)
        .await
        .unwrap();
    let c = app.manager.request_session(carl, desktop).await.unwrap();
    let placed: Uuid = sqlx::query_scalar("SELECT server_id FROM sessions WHERE session_id = $1")
        .bind(c)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(placed, second_id, "a draining agent got a new session");
    wait_running(&app.db, c).await;
    app.manager.destroy_session(c, "test").await.unwrap();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn reconcile_removes_orphans_and_notices_vanished_containers(db: PgPool) {
    let name = unique("tidy");
    let (app, _, agent) = setup(db, &name).await;
    let docker = docker().await;

    // An orphan: labelled as this agent's session, unknown to the manager.
    let deployment: String =
        sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let orphan_session = Uuid::new_v4();
    let labels = std::collections::HashMap::from([
        ("berth.kasm_id".to_owned(), orphan_session.to_string()),
        ("berth.agent".to_owned(), format!("{name}@{deployment}")),
    ]);
    // Another deployment's container on the same host, which this agent must leave alone.
    let foreign_labels = std::collections::HashMap::from([
        ("berth.kasm_id".to_owned(), Uuid::new_v4().to_string()),
        (
            "berth.agent".to_owned(),
            format!("{name}@another-deployment"),
        ),
    ]);
    let foreign_config = bollard::container::Config {
        image: Some("berth/debian-base:bookworm".to_owned()),
        cmd: Some(vec!["sleep".to_owned(), "600".to_owned()]),
        labels: Some(foreign_labels),
        ..Default::default()
    };
    let foreign = docker
        .create_container::<String, String>(None, foreign_config)
        .await
        .unwrap();
    let config = bollard::container::Config {
        image: Some("berth/debian-base:bookworm".to_owned()),
        cmd: Some(vec!["sleep".to_owned(), "600".to_owned()]),
        labels: Some(labels),
        ..Default::default()
    };
    let orphan = docker
        .create_container::<String, String>(None, config)
        .await
        .unwrap();
    docker
        .start_container::<String>(&orphan.id, None)
        .await
        .unwrap();
    wait_for("the orphan to be removed", 20, || async {
        docker
            .inspect_container(&orphan.id, None)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(
        docker.inspect_container(&foreign.id, None).await.is_ok(),
        "another deployment's container was removed"
    );
    let remove = bollard::container::RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_container(&foreign.id, Some(remove))
        .await
        .unwrap();

    // A session whose container is removed behind Berth's back ends as deleted.
    let user = app.create_user("ann", "password-123", "user").await;
    let session_id = app
        .manager
        .request_session(user, image_id(&app.db, "Desktop").await)
        .await
        .unwrap();
    wait_running(&app.db, session_id).await;
    let (container, _, _) = container_of(&app.db, session_id).await;
    let remove = bollard::container::RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_container(&container, Some(remove))
        .await
        .unwrap();
    wait_for("the vanished session to be marked", 30, || async {
        let (status, message) = state_of(&app.db, session_id).await;
        (status == "deleted").then_some(message)
    })
    .await;
    assert!(state_of(&app.db, session_id)
        .await
        .1
        .contains("disappeared"));
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn bad_requests_are_refused_and_change_nothing(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let user = app.create_user("ann", "password-123", "user").await;

    // An unknown image.
    let error = app
        .manager
        .request_session(user, Uuid::new_v4())
        .await
        .unwrap_err();
    assert_eq!(error.status_code(), 404, "{error}");

    // No agent registered: a capacity error saying so.
    let error = app
        .manager
        .request_session(user, image_id(&app.db, "Desktop").await)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("no agent is registered"),
        "{error}"
    );

    // (Check-ins with unknown, revoked or another agent's credentials: agent_identity.rs.)
    let servers: i64 = sqlx::query_scalar("SELECT count(*) FROM servers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(servers, 0);
    let kasms: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kasms, 0);
}

/// Signs in and returns the `berth_session=...` cookie pair.
async fn session_cookie(app: &TestApp, username: &str) -> String {
    let response = app.login(&app.client(), username, "password-123").await;
    let cookie = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_proxy_lets_only_the_owner_reach_the_desktop(db: PgPool) {
    let (app, _, agent) = setup(db, &unique("proxy")).await;
    let owner = app.create_user("ann", "password-123", "user").await;
    app.create_user("bob", "password-123", "admin").await;
    let session_id = app
        .manager
        .request_session(owner, image_id(&app.db, "Desktop").await)
        .await
        .unwrap();
    wait_running(&app.db, session_id).await;
    let (ann, bob) = (
        session_cookie(&app, "ann").await,
        session_cookie(&app, "bob").await,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = app.url(&format!("/desktop/{session_id}/vnc.html"));

    let get = |cookie: Option<String>, url: String| {
        let request = http.get(url);
        let request = match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    // Nothing the container serves reaches a browser, not even its owner's: Berth serves the
    // web client itself. (The session's user controls what runs in the container, and could
    // otherwise serve script into the page of anyone who opens their shared session.)
    for path in ["vnc.html", "core/rfb.js", "", "websockify"] {
        let url = app.url(&format!("/desktop/{session_id}/{path}"));
        let mine = get(Some(ann.clone()), url).await;
        assert_eq!(mine.status(), 404, "{path}");
        assert!(mine
            .text()
            .await
            .unwrap()
            .contains("Only the desktop's stream"));
    }
    assert_eq!(get(None, page.clone()).await.status(), 401);
    assert_eq!(
        get(Some(bob.clone()), page.clone()).await.status(),
        403,
        "even an admin is not the owner"
    );
    assert_eq!(
        get(
            Some(ann.clone()),
            app.url(&format!("/desktop/{}/vnc.html", Uuid::new_v4()))
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        get(
            Some(ann.clone()),
            app.url(&format!("/desktop/{session_id}/x%2F..%2F..%2Fetc%2Fpasswd"))
        )
        .await
        .status(),
        400
    );

    // The websocket: the owner from Berth's own origin streams; anyone else is refused.
    let url = format!("ws://{}/desktop/{session_id}/websockify", app.addr);
    let origin = format!("http://{}", app.addr);
    let frame = berth::rfb::first_framebuffer(
        &url,
        &[("cookie", ann.clone()), ("origin", origin.clone())],
        Duration::from_secs(30),
    )
    .await
    .expect("the owner gets the desktop through the proxy");
    assert!(frame.width > 0 && frame.rectangles > 0);

    // A recorded stream that is not the session's container (as when Docker gave the port to
    // another container) is not connected to.
    let (container, _, _) = container_of(&app.db, session_id).await;
    sqlx::query("UPDATE sessions SET container_id = 'another-container' WHERE session_id = $1")
        .bind(session_id)
        .execute(&app.db)
        .await
        .unwrap();
    let moved = berth::rfb::first_framebuffer(
        &url,
        &[("cookie", ann.clone()), ("origin", origin.clone())],
        Duration::from_secs(10),
    )
    .await
    .expect_err("connected to a container that is not the session's")
    .to_string();
    assert!(moved.contains("409"), "{moved}");
    sqlx::query("UPDATE sessions SET container_id = $2 WHERE session_id = $1")
        .bind(session_id)
        .bind(&container)
        .execute(&app.db)
        .await
        .unwrap();

    for (who, headers) in [
        (
            "another user",
            vec![("cookie", bob.clone()), ("origin", origin.clone())],
        ),
        ("anonymous", vec![("origin", origin.clone())]),
        (
            "another origin",
            vec![
                ("cookie", ann.clone()),
                ("origin", "http://evil.example".to_owned()),
            ],
        ),
        ("no origin", vec![("cookie", ann.clone())]),
    ] {
        let refused = berth::rfb::first_framebuffer(&url, &headers, Duration::from_secs(10)).await;
        let error = refused.expect_err(who).to_string();
        assert!(
            error.contains("401") || error.contains("403"),
            "{who}: {error}"
        );
    }

    // Once deleted, the desktop is gone for its owner too.
    app.manager
        .destroy_session(session_id, "test")
        .await
        .unwrap();
    assert_eq!(get(Some(ann), page).await.status(), 409);
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn sessions_pause_resume_and_keepalive(db: PgPool) {
    let (app, _, agent) = setup(db, &unique("pause")).await;
    let user = app.create_user("ann", "password-123", "user").await;
    let session_id = app
        .manager
        .request_session(user, image_id(&app.db, "Desktop").await)
        .await
        .unwrap();
    wait_running(&app.db, session_id).await;
    let (container, _, _) = container_of(&app.db, session_id).await;
    let docker = docker().await;
    let paused = |docker: Docker, container: String| async move {
        docker
            .inspect_container(&container, None)
            .await
            .unwrap()
            .state
            .unwrap()
            .paused
            .unwrap()
    };

    let change = |what| app.manager.change_session(session_id, what);
    change(SessionChange::Pause).await.unwrap();
    assert_eq!(state_of(&app.db, session_id).await.0, "paused");
    assert!(paused(docker.clone(), container.clone()).await);
    change(SessionChange::Resume).await.unwrap();
    assert_eq!(state_of(&app.db, session_id).await.0, "running");
    assert!(!paused(docker.clone(), container.clone()).await);

    // Stop ends the container's processes but keeps it (and its files); a stopped session
    // cannot be paused; resume starts it again and it streams on the port Docker gives it now.
    let exec = |command: &'static str| docker_exec(&container, command);
    exec("echo kept > /tmp/berth-stop-test").await;
    change(SessionChange::Stop).await.unwrap();
    assert_eq!(state_of(&app.db, session_id).await.0, "stopped");
    let running = docker
        .inspect_container(&container, None)
        .await
        .unwrap()
        .state
        .unwrap()
        .running;
    assert_eq!(
        running,
        Some(false),
        "the stopped session's container still runs"
    );
    let error = change(SessionChange::Pause).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("The session is stopped; it cannot be paused"),
        "{error}"
    );
    change(SessionChange::Resume).await.unwrap();
    assert_eq!(state_of(&app.db, session_id).await.0, "running");
    let (same_container, port, secret) = container_of(&app.db, session_id).await;
    assert_eq!(same_container, container, "resume made a new container");
    assert_eq!(exec("cat /tmp/berth-stop-test").await, "kept\n");
    berth::rfb::first_framebuffer_at("127.0.0.1", port, Some(&secret), Duration::from_secs(30))
        .await
        .expect("the restarted desktop streams on its recorded port");

    // Keepalive pushes the expiration forward; expiry reaps the session and its container.
    sqlx::query(
        "UPDATE sessions SET expiration_date = now() + interval '10 seconds' WHERE session_id = $1",
    )
    .bind(session_id)
    .execute(&app.db)
    .await
    .unwrap();
    app.manager.keepalive(session_id).await.unwrap();
    let left: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM expiration_date - now())::float8 FROM sessions WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(
        left > 3000.0,
        "keepalive did not extend the session: {left}"
    );
    sqlx::query(
        "UPDATE sessions SET expiration_date = now() - interval '1 second' WHERE session_id = $1",
    )
    .bind(session_id)
    .execute(&app.db)
    .await
    .unwrap();
    app.manager.reap_expired().await;
    assert_eq!(state_of(&app.db, session_id).await.0, "deleted");
    assert!(
        docker.inspect_container(&container, None).await.is_err(),
        "the expired session's container survived"
    );
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_restarted_agent_keeps_its_sessions(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let name = unique("restarted");
    let mut process = AgentProcess::start(&app, &name).await;
    wait_online_with_images(&app, &name).await;
    let user = app.create_user("ria", "password-123", "user").await;
    let session_id = app
        .manager
        .request_session(user, image_id(&app.db, "Desktop").await)
        .await
        .unwrap();
    wait_running(&app.db, session_id).await;
    let (container, _, _) = container_of(&app.db, session_id).await;
    docker_exec(&container, "echo still-here > /home/berth/kept.txt").await;
    // Older than every grace period: the old rule ended such sessions on the first check-in
    // of a restarted agent.
    sqlx::query(
        "UPDATE sessions SET start_date = now() - interval '10 minutes' WHERE session_id = $1",
    )
    .bind(session_id)
    .execute(&app.db)
    .await
    .unwrap();

    process.kill();
    let _process = AgentProcess::start(&app, &name).await;
    let restarted = chrono::Utc::now();
    // Six check-ins of the new process: enough to be settled and to report absence twice.
    wait_for("six check-ins of the restarted agent", 30, || async {
        let last = last_check_in(&app.db, &app.redis_prefix, Some(&name)).await;
        last.filter(|at| *at > restarted + chrono::Duration::seconds(6))
            .map(|_| ())
    })
    .await;
    assert_eq!(state_of(&app.db, session_id).await.0, "running");
    assert_eq!(
        docker_exec(&container, "cat /home/berth/kept.txt").await,
        "still-here\n"
    );
    app.manager
        .destroy_session(session_id, "done")
        .await
        .unwrap();
}

/// A launch of an image the host does not have fails saying so (Docker's answer to the
/// create itself: the agent no longer asks Docker about the image first), and leaves no
/// container behind.
#[tokio::test]
async fn a_missing_image_fails_the_launch_by_name() {
    use berth::agent::docker::DockerRuntime;
    use berth::agent::runtime::{ContainerRuntime, RuntimeError};
    let runtime = DockerRuntime::connect().await.unwrap();
    let spec = berth::protocol::CreateSession::example("berth/no-such-image:missing", "bridge");
    let session_id = spec.session_id;
    let error = runtime
        .create_session(&spec, "test@missing-image")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::ImageMissing(name) if name == "berth/no-such-image:missing"),
        "{error:?}"
    );
    assert!(matches!(
        runtime.published(session_id).await,
        Err(RuntimeError::NotFound(_))
    ));
}

/// The images' entrypoint starts no desktop with a secret VNC authentication cannot carry
/// safely: missing, shorter than the 8 characters VNC uses, or with spaces, control or
/// non-ASCII characters. It exits with status 64 and says why.
#[tokio::test]
async fn the_entrypoint_refuses_unusable_session_secrets() {
    let cases: [(Option<&str>, &str); 5] = [
        (None, "is not set"),
        (Some("short"), "at least 8 characters"),
        (Some("has a space"), "printable ASCII"),
        (Some("tab\tinside-it"), "printable ASCII"),
        (Some("naïve-secret"), "printable ASCII"),
    ];
    for (secret, reason) in cases {
        let mut command = tokio::process::Command::new("docker");
        command.args(["run", "--rm"]);
        if let Some(secret) = secret {
            command.args(["-e", &format!("BERTH_SESSION_SECRET={secret}")]);
        }
        let output = command
            .arg("berth/desktop:latest")
            .output()
            .await
            .expect("docker CLI");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{secret:?}: {stderr}");
        assert!(stderr.contains(reason), "{secret:?}: {stderr}");
    }
}
