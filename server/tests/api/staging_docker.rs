//! The staging pool with real containers (an in-process agent, Docker, the session images):
//! a staged desktop is reachable by nobody through the proxy until a launch takes it over,
//! and then its container accepts only the new secret.
use crate::docker_sessions::{docker, image_id, start_test_agent, wait_for};
use crate::support::{spawn_app, TestApp};
use berth::agent::ready::desktop_answers;
use sqlx::PgPool;
use std::time::Duration;
use store::staging::ConfigInput;
use uuid::Uuid;

async fn cookie(app: &TestApp, username: &str) -> String {
    let response = app.login(&app.client(), username, "password-123").await;
    let cookie = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

/// The one ready staged session: its id, published port and secret.
async fn ready_staged(db: &PgPool) -> (Uuid, u16, String) {
    wait_for("a staged desktop to be ready", 120, || async {
        sqlx::query_as::<_, (Uuid, i32, String)>(
            "SELECT session_id, port, session_secret FROM sessions
             WHERE user_id IS NULL AND operational_status = 'running'",
        )
        .fetch_optional(db)
        .await
        .unwrap()
        .map(|(id, port, secret)| (id, port as u16, secret))
    })
    .await
}

/// The stream through the proxy, as `cookie`'s user: Ok when a framebuffer came.
async fn stream(app: &TestApp, session_id: Uuid, cookie: &str) -> Result<(), String> {
    let url = format!("ws://{}/desktop/{session_id}/websockify", app.addr);
    let origin = format!("http://{}", app.addr);
    berth::rfb::first_framebuffer(
        &url,
        &[("cookie", cookie.to_owned()), ("origin", origin)],
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
    .map_err(|error| error.to_string())
}

/// An app with an in-process agent, the user ann, and one Desktop kept staged.
struct Pool {
    app: TestApp,
    agent: tokio::task::JoinHandle<()>,
    ann: Uuid,
    desktop: Uuid,
    config_id: Uuid,
}

async fn pool(db: PgPool) -> Pool {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db.clone()).await;
    let agent = start_test_agent(&app).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let desktop = image_id(&db, "Desktop").await;
    store::group_access::assign_image(&db, store::groups::ALL_USERS, desktop, true)
        .await
        .unwrap();
    let input = ConfigInput {
        image_id: desktop,
        server_id: None,
        desired: 1,
        expiry_secs: 600,
    };
    let config_id = store::staging::create(&db, &input).await.unwrap();
    Pool {
        app,
        agent,
        ann,
        desktop,
        config_id,
    }
}

/// ann's launch of the Desktop: it takes the staged desktop, whose container then accepts
/// the session's new secret and no longer the pool's. Answers the session.
async fn hand_over(app: &TestApp, ann: Uuid, desktop: Uuid, staged: (Uuid, u16, &str)) -> Uuid {
    let (staged, port, pool_secret) = staged;
    let session_id = app.manager.request_session(ann, desktop).await.unwrap();
    assert_eq!(session_id, staged, "the launch took the staged desktop");
    let secret: String =
        sqlx::query_scalar("SELECT session_secret FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_ne!(secret, pool_secret);
    assert!(
        desktop_answers(port, pool_secret).await.is_err(),
        "the pool's secret no longer opens the desktop"
    );
    desktop_answers(port, &secret)
        .await
        .expect("the new secret opens it");
    session_id
}

/// Stops the staging (what it kept ready is recycled), then ends the user's session.
async fn end(app: &TestApp, config_id: Uuid, session_id: Uuid, agent: tokio::task::JoinHandle<()>) {
    store::staging::delete(&app.db, config_id).await.unwrap();
    wait_for("the staged desktops to be recycled", 120, || async {
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sessions
             WHERE user_id IS NULL AND operational_status <> 'deleted'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        (live == 0).then_some(())
    })
    .await;
    app.manager
        .destroy_session(session_id, "test")
        .await
        .unwrap();
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_staged_desktop_is_nobodys_until_handed_over_then_takes_only_its_new_secret(db: PgPool) {
    let Pool {
        app,
        agent,
        ann,
        desktop,
        config_id,
    } = pool(db.clone()).await;
    app.create_user("root", "password-123", "admin").await;
    let (staged, port, pool_secret) = ready_staged(&db).await;
    let (ann_cookie, admin_cookie) = (cookie(&app, "ann").await, cookie(&app, "root").await);

    // Before the hand-over: refused to everyone, administrators included.
    for (who, cookie) in [("a user", &ann_cookie), ("an admin", &admin_cookie)] {
        let refused = stream(&app, staged, cookie).await.expect_err(who);
        assert!(refused.contains("403"), "{who}: {refused}");
    }
    desktop_answers(port, &pool_secret)
        .await
        .expect("the staged desktop runs, with the pool's secret");

    let session_id = hand_over(&app, ann, desktop, (staged, port, &pool_secret)).await;
    stream(&app, session_id, &ann_cookie)
        .await
        .expect("its owner streams it through the proxy");
    let other = stream(&app, session_id, &admin_cookie)
        .await
        .expect_err("an admin is not its owner");
    assert!(other.contains("403"), "{other}");

    // The pool refills behind it; deleting the config recycles what it staged.
    let (refill, _, _) = ready_staged(&db).await;
    assert_ne!(refill, staged);
    end(&app, config_id, session_id, agent).await;
}

/// The host pids of the staged container's processes waiting to replace its password.
async fn hand_over_scripts(session_id: Uuid) -> Vec<String> {
    let container = format!("berth-{}", session_id.simple());
    let options = bollard::container::TopOptions {
        ps_args: "-eo pid,args",
    };
    let top = docker()
        .await
        .top_processes(&container, Some(options))
        .await
        .unwrap();
    top.processes
        .unwrap_or_default()
        .into_iter()
        .filter(|row| row.iter().any(|column| column.contains("read -r s")))
        .filter_map(|row| row.first().cloned())
        .collect()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_staged_desktop_waits_ready_to_hand_over_and_is_handed_over_when_that_was_lost(
    db: PgPool,
) {
    let Pool {
        app,
        agent,
        ann,
        desktop,
        config_id,
    } = pool(db.clone()).await;
    let (staged, port, pool_secret) = ready_staged(&db).await;

    // The replacing script already runs, waiting for the secret: the hand-over does not
    // start a process in the container.
    let waiting = wait_for("the hand-over to be prepared", 30, || async {
        let pids = hand_over_scripts(staged).await;
        (!pids.is_empty()).then_some(pids)
    })
    .await;
    assert_eq!(waiting.len(), 1, "one prepared hand-over: {waiting:?}");

    // Lost (killed here; an agent restart or a broken pipe does the same): the hand-over
    // still replaces the secret, the slower way.
    let killed = std::process::Command::new("kill")
        .arg(&waiting[0])
        .status()
        .unwrap();
    assert!(killed.success());
    let session_id = hand_over(&app, ann, desktop, (staged, port, &pool_secret)).await;
    assert!(
        hand_over_scripts(staged).await.is_empty(),
        "nothing of the hand-over is left running in the owner's desktop"
    );
    end(&app, config_id, session_id, agent).await;
}
