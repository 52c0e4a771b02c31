//! `berth serve` as real processes (with the embedded agent and real Docker) that are stopped,
//! killed and restarted: sessions survive, interrupted launches are finished or failed, and of
//! two replicas one runs the periodic jobs, the other taking over when it dies.
use crate::serve::{
    deployment_containers, deployment_id, exec, key, launch, room_for_desktops, status,
    wait_check_ins, wait_status, wait_until, Api, Serve,
};
use app::model::SessionStatus;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

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
    for (user_id, session_id) in &sessions {
        wait_status(&db, session_id, SessionStatus::Running).await;
        exec(
            &api,
            user_id,
            session_id,
            &format!("echo {session_id} > ~/kept.txt"),
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
    sqlx::query("UPDATE sessions SET start_date = start_date - interval '2 minutes'")
        .execute(&db)
        .await
        .unwrap();
    drop(api);

    serve.stop();
    serve.restart().await;
    let restarted = chrono::Utc::now();
    wait_check_ins(&serve, &db, restarted, 6).await;
    let api = Api {
        serve: &serve,
        key: key(&db).await,
    };
    let expected = ["running", "paused", "stopped"];
    for ((_, session_id), want) in sessions.iter().zip(expected) {
        assert_eq!(
            status(&db, session_id).await.0,
            want,
            "{}",
            serve.log_text()
        );
    }
    for (user_id, session_id) in &sessions[1..] {
        api.ok(
            "resume_kasm",
            json!({"user_id": user_id, "kasm_id": session_id}),
        )
        .await;
        wait_status(&db, session_id, SessionStatus::Running).await;
    }
    for (user_id, session_id) in &sessions {
        assert_eq!(
            exec(&api, user_id, session_id, "cat ~/kept.txt").await,
            format!("{session_id}\n")
        );
        api.ok(
            "destroy_kasm",
            json!({"user_id": user_id, "kasm_id": session_id}),
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
    let (user_id, session_id) = launch(&api, &db, "kim").await;
    wait_until("the container to be starting", 60, || async {
        status(&db, &session_id).await.0 == "starting"
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
        let (now, _) = status(&db, &session_id).await;
        now == "running" || now == "deleted"
    })
    .await;
    let (now, message) = status(&db, &session_id).await;
    assert!(!message.is_empty());
    let deployment = deployment_id(&db).await;
    // Every container of the deployment belongs to a live session (the agent's reconcile
    // removes orphans at its next check-in).
    wait_until("no orphan container", 30, || async {
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT session_id::text FROM sessions WHERE operational_status <> 'deleted'",
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
        assert_eq!(exec(&api, &user_id, &session_id, "echo up").await, "up\n");
        api.ok(
            "destroy_kasm",
            json!({"user_id": user_id, "kasm_id": session_id}),
        )
        .await;
    } else {
        assert!(message.contains("launch it again"), "{message}");
    }
}

/// A `berth agent` process, killed when dropped.
struct StandaloneAgent(std::process::Child);

impl StandaloneAgent {
    /// With its own credential, given in the environment.
    async fn start(db: &PgPool, manager: &str) -> StandaloneAgent {
        let name = format!(
            "replica-agent-{}",
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let credential = crate::support::agent_credential(db, &name).await;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["agent", "--manager", manager, "--name", &name])
            .args(["--listen", "127.0.0.1:0", "--interval", "1"])
            .env_remove("BERTH_AGENT_TOKEN_FILE")
            .env("BERTH_AGENT_TOKEN", credential)
            .spawn()
            .expect("start berth agent");
        StandaloneAgent(child)
    }
}

impl Drop for StandaloneAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
    // Launches work from either replica (a standalone agent checks in with the first); the
    // lease stays where it is.
    let _agent = StandaloneAgent::start(&db, &first.url("")).await;
    wait_until("the agent to hold the Desktop image", 60, || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM servers WHERE status = 'online' AND 'berth/desktop:latest' = ANY(images_present))",
        )
        .fetch_one(&db)
        .await
        .unwrap()
    })
    .await;
    room_for_desktops(&db).await;
    for (serve, username) in [(&first, "una"), (&second, "bea")] {
        let api = Api {
            serve,
            key: key(&db).await,
        };
        let (user_id, session_id) = launch(&api, &db, username).await;
        wait_status(&db, &session_id, SessionStatus::Running).await;
        assert_eq!(exec(&api, &user_id, &session_id, "echo up").await, "up\n");
        api.ok(
            "destroy_kasm",
            json!({"user_id": user_id, "kasm_id": session_id}),
        )
        .await;
    }
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
    let session_id =
        crate::support::insert_session(&db, admin, image, None, "running", 1.0, 1 << 30).await;
    sqlx::query(
        "UPDATE sessions SET expiration_date = now() - interval '1 second' WHERE session_id = $1",
    )
    .bind(session_id)
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
        status(&db, &session_id.to_string()).await.0 == "deleted"
    })
    .await;
    assert!(killed.elapsed() < Duration::from_secs(20));
    drop(second);
}
