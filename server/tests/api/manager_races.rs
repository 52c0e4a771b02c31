//! The session state machine's races, against real PostgreSQL with a fake agent (the one
//! place a fake belongs: it lets a test hold a launch mid-way, count concurrent creates, and
//! answer a take-over as a container would).
use crate::support::{api_call, api_key, insert_image, spawn_app_with_agents, TestApp};
use app::model::SessionStatus;
use berth::manager::agent_client::{AgentClient, AgentFailure, AgentRef, ContainerAction};
use berth::protocol::{CheckIn, ContainerReport, CreateSession, CreatedSession};
use berth::protocol::{ExecOutput, ExecRequest};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// An agent that creates "containers" in memory.
#[derive(Default)]
pub(crate) struct FakeAgent {
    /// While set, creates wait until it is notified.
    pub hold: Option<Arc<Notify>>,
    pub create_delay: Duration,
    pub creating: AtomicUsize,
    pub most_at_once: AtomicUsize,
    pub created: Mutex<Vec<Uuid>>,
    pub removed: Mutex<Vec<Uuid>>,
    /// What adopt answers per session (absent: no container).
    pub adoptable: Mutex<HashMap<Uuid, CreatedSession>>,
    /// The commands run in sessions (each succeeds).
    pub execs: Mutex<Vec<(Uuid, ExecRequest)>>,
    /// The secrets staged sessions were handed over with.
    pub replaced: Mutex<Vec<(Uuid, String)>>,
}

pub(crate) fn created(session_id: Uuid) -> CreatedSession {
    CreatedSession {
        container_id: format!("c-{}", session_id.simple()),
        host: "127.0.0.1".into(),
        port: 40000,
    }
}

#[async_trait::async_trait]
impl AgentClient for FakeAgent {
    async fn create(
        &self,
        _agent: &AgentRef,
        spec: &CreateSession,
        _timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        let now = self.creating.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        if let Some(hold) = &self.hold {
            hold.notified().await;
        }
        tokio::time::sleep(self.create_delay).await;
        self.creating.fetch_sub(1, Ordering::SeqCst);
        self.created.lock().unwrap().push(spec.session_id);
        Ok(created(spec.session_id))
    }

    async fn start(
        &self,
        _agent: &AgentRef,
        session_id: Uuid,
        _secret: &str,
        _timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        Ok(created(session_id))
    }

    async fn adopt(
        &self,
        agent: &AgentRef,
        session_id: Uuid,
        _secret: &str,
        _timeout: Duration,
    ) -> Result<CreatedSession, AgentFailure> {
        self.adoptable
            .lock()
            .unwrap()
            .get(&session_id)
            .cloned()
            .ok_or_else(|| AgentFailure::NoContainer {
                host: agent.hostname.clone(),
                message: "no session container".into(),
            })
    }

    async fn endpoint(
        &self,
        _agent: &AgentRef,
        session_id: Uuid,
    ) -> Result<CreatedSession, AgentFailure> {
        Ok(created(session_id))
    }

    async fn act(
        &self,
        _agent: &AgentRef,
        _session_id: Uuid,
        _action: ContainerAction,
    ) -> Result<(), AgentFailure> {
        Ok(())
    }

    async fn remove(&self, _agent: &AgentRef, session_id: Uuid) -> Result<(), AgentFailure> {
        self.removed.lock().unwrap().push(session_id);
        Ok(())
    }

    async fn exec(
        &self,
        _agent: &AgentRef,
        session_id: Uuid,
        request: &ExecRequest,
        _timeout: Duration,
    ) -> Result<ExecOutput, AgentFailure> {
        self.execs
            .lock()
            .unwrap()
            .push((session_id, request.clone()));
        Ok(ExecOutput {
            exit_code: Some(0),
            ..ExecOutput::default()
        })
    }

    async fn replace_secret(
        &self,
        _agent: &AgentRef,
        session_id: Uuid,
        secret: &str,
    ) -> Result<(), AgentFailure> {
        self.replaced
            .lock()
            .unwrap()
            .push((session_id, secret.to_owned()));
        Ok(())
    }

    /// These tests never open a stream: a fake desktop has nothing to stream.
    async fn tunnel(
        &self,
        agent: &AgentRef,
        _session_id: Uuid,
        _container_id: &str,
    ) -> Result<Box<dyn berth::rfb::ByteStream>, AgentFailure> {
        Err(AgentFailure::Unreachable {
            host: agent.hostname.clone(),
            reason: "the fake agent has no desktops".into(),
        })
    }
}

/// An online agent with room for `sessions` desktops of the test image (it promised hour-long
/// check-in intervals, so it stays online while the test runs).
pub(crate) async fn online_server(db: &PgPool, sessions: i64) -> Uuid {
    let server_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO servers (server_id, hostname, agent_url, status, cores, memory, images_present, last_checkin, checkin_interval)
         VALUES ($1, $2, 'http://127.0.0.1:9', 'online', $3, $4, '{berth/desktop:latest}', now(), 3600)",
    )
    .bind(server_id)
    .bind(format!("fake-{}", &server_id.simple().to_string()[..8]))
    .bind(sessions as f64)
    .bind(sessions << 30)
    .execute(db)
    .await
    .unwrap();
    server_id
}

async fn status_of(db: &PgPool, session_id: Uuid) -> (String, String) {
    sqlx::query_as(
        "SELECT operational_status, operational_message FROM sessions WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_one(db)
    .await
    .unwrap()
}

pub(crate) async fn wait_status(db: &PgPool, session_id: Uuid, want: SessionStatus) -> String {
    for _ in 0..300 {
        let (status, message) = status_of(db, session_id).await;
        if status == want.as_str() {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{session_id} never became {want}: {:?}",
        status_of(db, session_id).await
    );
}

pub(crate) async fn app_with(db: PgPool, agent: Arc<FakeAgent>) -> TestApp {
    app::backend::users::ensure_first_admin(&db, Some("admin-password-1".into()))
        .await
        .unwrap();
    spawn_app_with_agents(db, agent).await
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_burst_of_launches_queues_and_every_one_runs(db: PgPool) {
    const USERS: usize = 100;
    let agent = Arc::new(FakeAgent {
        create_delay: Duration::from_millis(20),
        ..FakeAgent::default()
    });
    let app = app_with(db.clone(), agent.clone()).await;
    online_server(&db, USERS as i64).await;
    let image_id = insert_image(&db, "Burst").await;
    let key = api_key(&app, &["User", "Users Auth Session"], false).await;
    // Users without passwords (no Argon2 per user): they are only named in API calls.
    let users: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO users (user_id, username) SELECT gen_random_uuid(), 'burst' || n FROM generate_series(1, $1) n RETURNING user_id",
    )
    .bind(USERS as i32)
    .fetch_all(&db)
    .await
    .unwrap();

    let requests = users.iter().map(|user_id| {
        let body = json!({"user_id": user_id.simple().to_string(), "image_id": image_id.simple().to_string()});
        api_call(&app, "request_kasm", &key, body)
    });
    let answers = futures_util::future::join_all(requests).await;
    let failures: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {USERS} launches failed: {:?}",
        failures.len(),
        failures.first()
    );

    for ((_, answer), user_id) in answers.iter().zip(&users) {
        let session_id: Uuid = answer["kasm_id"].as_str().unwrap().parse().unwrap();
        wait_status(&db, session_id, SessionStatus::Running).await;
        let (status, reply) = api_call(
            &app,
            "get_kasm_status",
            &key,
            json!({"user_id": user_id.simple().to_string(), "kasm_id": session_id.simple().to_string()}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    assert_eq!(agent.created.lock().unwrap().len(), USERS);
    let most = agent.most_at_once.load(Ordering::SeqCst);
    assert!(
        most <= berth::startup::LAUNCHES_PER_AGENT,
        "the agent was asked for {most} containers at once"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn status_reads_answer_while_launches_wait(db: PgPool) {
    let hold = Arc::new(Notify::new());
    let agent = Arc::new(FakeAgent {
        hold: Some(hold.clone()),
        ..FakeAgent::default()
    });
    let app = app_with(db.clone(), agent.clone()).await;
    online_server(&db, 50).await;
    let image_id = insert_image(&db, "Held").await;
    let key = api_key(&app, &["User", "Users Auth Session"], false).await;
    let mut kasms = Vec::new();
    for n in 0..30 {
        let user_id = app
            .create_user(&format!("held{n}"), "password-123", "user")
            .await;
        let body = json!({"user_id": user_id.simple().to_string(), "image_id": image_id.simple().to_string()});
        let (status, answer) = api_call(&app, "request_kasm", &key, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        kasms.push((user_id, answer["kasm_id"].as_str().unwrap().to_owned()));
    }
    // Every launch is now either creating (held) or queued behind the agent's slots.
    let reads = kasms.iter().map(|(user_id, session_id)| {
        api_call(
            &app,
            "get_kasm_status",
            &key,
            json!({"user_id": user_id.simple().to_string(), "kasm_id": session_id}),
        )
    });
    for (status, reply) in futures_util::future::join_all(reads).await {
        assert_eq!(status, StatusCode::OK, "{reply}");
        let state = reply["operational_status"].as_str().unwrap();
        assert!(["provisioning", "starting"].contains(&state), "{reply}");
    }
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE operational_status = 'provisioning' AND operational_message LIKE 'Queued on %'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(queued as usize, 30 - berth::startup::LAUNCHES_PER_AGENT);
    hold.notify_waiters();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_session_deleted_while_its_container_starts_is_not_revived(db: PgPool) {
    let hold = Arc::new(Notify::new());
    let agent = Arc::new(FakeAgent {
        hold: Some(hold.clone()),
        ..FakeAgent::default()
    });
    let app = app_with(db.clone(), agent.clone()).await;
    online_server(&db, 4).await;
    let image_id = insert_image(&db, "Deleted").await;
    let user_id = app.create_user("dee", "password-123", "user").await;
    let session_id = app
        .manager
        .request_session(user_id, image_id)
        .await
        .unwrap();
    wait_status(&db, session_id, SessionStatus::Starting).await;
    app.manager
        .destroy_session(session_id, "Deleted.")
        .await
        .unwrap();
    hold.notify_one();
    for _ in 0..100 {
        if agent.created.lock().unwrap().contains(&session_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&db, session_id).await.0, "deleted");
    let removals = agent
        .removed
        .lock()
        .unwrap()
        .iter()
        .filter(|id| **id == session_id)
        .count();
    assert!(
        removals >= 2,
        "the late container was not removed ({removals} removals)"
    );
}

/// Inserts a session as a replica that died mid-launch left it.
async fn interrupted(
    db: &PgPool,
    user_id: Uuid,
    image_id: Uuid,
    server_id: Uuid,
    status: &str,
    spec: Option<serde_json::Value>,
) -> Uuid {
    let session_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO sessions (session_id, user_id, image_id, server_id, session_secret, operational_status,
                            cores, memory, expiration_date, supervisor, launch_spec)
         VALUES ($1, $2, $3, $4, 's', $5, 1, 1073741824, now() + interval '1 hour', $6, $7)",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(image_id)
    .bind(server_id)
    .bind(status)
    .bind(Uuid::new_v4()) // a replica that never heartbeated
    .bind(spec)
    .execute(db)
    .await
    .unwrap();
    session_id
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn launches_of_a_dead_replica_are_finished_or_failed_with_a_message(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let app = app_with(db.clone(), agent.clone()).await;
    let server_id = online_server(&db, 8).await;
    let image_id = insert_image(&db, "Recovered").await;
    let user_id = app.create_user("rey", "password-123", "user").await;

    let streams = interrupted(&db, user_id, image_id, server_id, "starting", None).await;
    agent
        .adoptable
        .lock()
        .unwrap()
        .insert(streams, created(streams));
    let gone = interrupted(&db, user_id, image_id, server_id, "starting", None).await;
    let spec = json!({
        "kasm_id": Uuid::nil(), "user_id": user_id, "image_id": image_id,
        "image": "berth/desktop:latest", "cores": 1.0, "memory": 1073741824i64,
        "network_mode": "bridge", "run_config": {}, "start_url": null, "server_id": server_id,
    });
    let queued = interrupted(&db, user_id, image_id, server_id, "provisioning", None).await;
    let mut spec = spec;
    spec["kasm_id"] = json!(queued);
    sqlx::query("UPDATE sessions SET launch_spec = $2 WHERE session_id = $1")
        .bind(queued)
        .bind(&spec)
        .execute(&db)
        .await
        .unwrap();

    // The app's own periodic jobs (it holds the lease alone) take them over.
    wait_status(&db, streams, SessionStatus::Running).await;
    let message = wait_status(&db, gone, SessionStatus::Deleted).await;
    assert!(message.contains("launch it again"), "{message}");
    assert!(agent.removed.lock().unwrap().contains(&gone));
    wait_status(&db, queued, SessionStatus::Running).await;
    assert!(agent.created.lock().unwrap().contains(&queued));
    let supervisors: Vec<Option<Uuid>> =
        sqlx::query_scalar("SELECT supervisor FROM sessions WHERE session_id = ANY($1)")
            .bind(vec![streams, queued])
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(supervisors
        .iter()
        .all(|s| *s == Some(app.manager.replica_id())));
}

fn check_in(name: &str, instance: Uuid, sessions: Vec<ContainerReport>) -> CheckIn {
    CheckIn {
        name: name.into(),
        hostname: name.into(),
        agent_url: "http://127.0.0.1:9".into(),
        address: "127.0.0.1".into(),
        cores: 8.0,
        memory: 8 << 30,
        gpus: 0,
        disk_free: 1 << 30,
        sessions,
        images_present: vec!["berth/desktop:latest".into()],
        images_missing: vec![],
        version: "test".into(),
        interval_secs: 1,
        instance_id: Some(instance),
        api_secret: "a".repeat(berth::protocol::MIN_API_SECRET_LEN),
        volume_roots: vec![],
    }
}

/// Records a check-in as the manager does once the agent's credential is verified.
async fn record(db: &PgPool, report: &CheckIn) -> berth::protocol::CheckInReply {
    let credential = crate::support::agent_credential(db, &report.name).await;
    let agent = app::backend::agent_credentials::authenticate(db, &credential)
        .await
        .unwrap()
        .expect("a live credential");
    berth::manager::checkin::record(db, None, &agent.into(), report)
        .await
        .unwrap()
        .expect("recorded")
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_agent_restart_ends_no_session_and_exits_stop_sessions(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let app = app_with(db.clone(), agent).await;
    let name = "restarting-agent";
    let first = record(&db, &check_in(name, Uuid::new_v4(), vec![])).await;
    let deployment: String =
        sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(&db)
            .await
            .unwrap();
    let image_id = insert_image(&db, "Kept").await;
    let user_id = app.create_user("kay", "password-123", "user").await;
    let mut kasms = Vec::new();
    for status in ["running", "paused", "stopped"] {
        let session_id = interrupted(&db, user_id, image_id, first.server_id, status, None).await;
        // Old enough that the old rule took them for vanished.
        sqlx::query("UPDATE sessions SET start_date = now() - interval '2 minutes', container_id = $2, port = 40000 WHERE session_id = $1")
            .bind(session_id)
            .bind(format!("c-{session_id}"))
            .execute(&db)
            .await
            .unwrap();
        kasms.push(session_id);
    }
    let report = |session_id: Uuid, running: bool| ContainerReport {
        session_id,
        container_id: format!("c-{session_id}"),
        running,
        paused: false,
        owner: format!("{name}@{deployment}"),
        port: running.then_some(40000),
        exit_code: (!running).then_some(143),
    };

    // A new agent process whose first reports lack every container (as a Docker that is
    // still starting would): nothing ends.
    let restarted = Uuid::new_v4();
    for _ in 0..3 {
        record(&db, &check_in(name, restarted, vec![])).await;
    }
    for session_id in &kasms {
        assert_ne!(status_of(&db, *session_id).await.0, "deleted");
    }
    // Once the agent is settled, a container exited by itself makes its session stopped,
    // with the exit code, when two reports in a row say so (one could predate a change Berth
    // just made); the paused and stopped ones are reported as they are.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reports = vec![report(kasms[0], false), report(kasms[2], false), {
        let mut paused = report(kasms[1], true);
        paused.paused = true;
        paused
    }];
    record(&db, &check_in(name, restarted, reports.clone())).await;
    assert_eq!(status_of(&db, kasms[0]).await.0, "running");
    record(&db, &check_in(name, restarted, reports)).await;
    let (status, message) = status_of(&db, kasms[0]).await;
    assert_eq!(status, "stopped");
    assert!(message.contains("code 143"), "{message}");
    assert_eq!(status_of(&db, kasms[1]).await.0, "paused");
    assert_eq!(status_of(&db, kasms[2]).await.0, "stopped");

    // Absent twice in a row from a settled agent: gone.
    let without_stopped = vec![report(kasms[0], false)];
    record(&db, &check_in(name, restarted, without_stopped.clone())).await;
    assert_eq!(status_of(&db, kasms[2]).await.0, "stopped");
    record(&db, &check_in(name, restarted, without_stopped)).await;
    let (status, message) = status_of(&db, kasms[2]).await;
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("deleted", "The session's container disappeared.")
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_launch_moves_the_metrics(db: PgPool) {
    use crate::metrics::sample;
    let agent = Arc::new(FakeAgent::default());
    let app = app_with(db.clone(), agent.clone()).await;
    online_server(&db, 2).await;
    // A name of its own: the recorder is shared by every test in this process.
    let image = format!("Metrics {}", Uuid::new_v4().simple());
    let image_id = insert_image(&db, &image).await;
    let key = api_key(
        &app,
        &["User", "Users Auth Session", "Sessions Modify"],
        false,
    )
    .await;
    let (admin, _) = app.signed_in("metrics-admin", "admin").await;
    let owner = app
        .create_user("metrics-owner", "password-123", "user")
        .await;
    let scrape = || async {
        let response = admin.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };

    let body =
        json!({"user_id": owner.simple().to_string(), "image_id": image_id.simple().to_string()});
    let (status, answer) = api_call(&app, "request_kasm", &key, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let session_id: Uuid = answer["kasm_id"].as_str().unwrap().parse().unwrap();
    wait_status(&db, session_id, SessionStatus::Running).await;

    let body = scrape().await;
    let launched = [("image", image.as_str()), ("outcome", "running")];
    assert_eq!(
        sample(&body, "berth_launches_total", &launched),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "berth_launch_duration_seconds_count",
            &[("image", image.as_str())]
        ),
        Some(1.0)
    );
    let running = [("status", "running"), ("image", image.as_str())];
    assert_eq!(
        sample(&body, "berth_sessions", &running),
        Some(1.0),
        "{body}"
    );
    assert!(sample(&body, "berth_agents_online", &[]).is_some_and(|n| n >= 1.0));
    assert!(
        sample(
            &body,
            "berth_http_requests_total",
            &[("route", "/api/public/{endpoint}"), ("status", "200")]
        )
        .is_some_and(|n| n >= 1.0),
        "{body}"
    );

    let (status, answer) = api_call(
        &app,
        "destroy_kasm",
        &key,
        json!({"user_id": owner.simple().to_string(), "kasm_id": session_id.simple().to_string()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    wait_status(&db, session_id, SessionStatus::Deleted).await;
    // The ended session's label set reads zero, not its last value.
    assert_eq!(
        sample(&scrape().await, "berth_sessions", &running),
        Some(0.0)
    );
}
