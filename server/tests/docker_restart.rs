//! The Docker daemon restarting under running sessions. A test binary of its own: cargo runs
//! test binaries one after another, so no other test's containers are on the daemon when it
//! goes down.
//!
//! What Berth does (README, "When things fail"): Docker stops every container when its daemon
//! stops (exit 143), so each session's row becomes stopped at the agent's first check-in
//! after Docker is back, with the exit code in its message: never "running" for a container
//! that is not. Its files are kept, and Resume starts the desktop again.
#![allow(dead_code)]
#[path = "api/serve.rs"]
mod serve;

use app::model::SessionStatus;
use serde_json::json;
use serve::{exec, key, launch, room_for_desktops, status, wait_status, wait_until, Api, Serve};
use sqlx::PgPool;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Restarts the Docker daemon the way it was started: through systemd when it manages
/// Docker, otherwise by stopping dockerd (SIGTERM) and starting it again with the same
/// command line, detached (as scripts/lib.sh starts it).
fn restart_docker() {
    let systemd = Command::new("systemctl")
        .args(["is-active", "--quiet", "docker"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if systemd {
        assert!(Command::new("systemctl")
            .args(["restart", "docker"])
            .status()
            .unwrap()
            .success());
        return;
    }
    let pid = String::from_utf8(
        Command::new("pgrep")
            .args(["-xo", "dockerd"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let pid: i32 = pid.trim().parse().expect("dockerd runs");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    for _ in 0..600 {
        if unsafe { libc::kill(pid, 0) } != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("berth-test-dockerd.log"))
        .unwrap();
    let mut dockerd = Command::new("setsid")
        .arg("nohup")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start dockerd again");
    // It outlives this test; reaped if it ends while the test binary still runs.
    std::thread::spawn(move || dockerd.wait());
    for _ in 0..600 {
        let answers = Command::new("docker")
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if answers {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("dockerd did not come back");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_docker_restart_stops_sessions_with_a_message_and_resume_brings_them_back(db: PgPool) {
    let serve = Serve::start(&db, true);
    serve.wait_ready().await;
    let api = Api {
        serve: &serve,
        key: key(&db).await,
    };
    room_for_desktops(&db).await;
    let (user_id, session_id) = launch(&api, &db, "dora").await;
    wait_status(&db, &session_id, SessionStatus::Running).await;
    exec(&api, &user_id, &session_id, "echo survived > ~/kept.txt").await;

    tokio::task::spawn_blocking(restart_docker).await.unwrap();

    // At the first check-ins after Docker is back, the session is stopped, saying why.
    wait_until("the session to be stopped", 60, || async {
        status(&db, &session_id).await.0 == "stopped"
    })
    .await;
    let (_, message) = status(&db, &session_id).await;
    assert!(message.contains("exited"), "{message}");

    api.ok(
        "resume_kasm",
        json!({"user_id": user_id, "kasm_id": session_id}),
    )
    .await;
    wait_status(&db, &session_id, SessionStatus::Running).await;
    assert_eq!(
        exec(&api, &user_id, &session_id, "cat ~/kept.txt").await,
        "survived\n"
    );
    api.ok(
        "destroy_kasm",
        json!({"user_id": user_id, "kasm_id": session_id}),
    )
    .await;
}
