//! The staging pool's manager side against real PostgreSQL, with the fake agent of
//! `manager_races` (containers in memory): the pool fills, hand-overs are atomic, access and
//! limits hold, the secret is replaced, a restart of Berth keeps and finishes staged sessions,
//! expired ones are replaced, the pool's figures reach /metrics.
use crate::docker_sessions::wait_for;
use crate::manager_races::{app_with, online_server, FakeAgent};
use crate::metrics::sample;
use crate::support::{insert_image, TestApp};
use berth::manager::LaunchOptions;
use berth_model::ControlError;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Arc;
use store::staging::{ConfigInput, ConfigView};
use uuid::Uuid;

async fn config(db: &PgPool, id: Uuid) -> ConfigView {
    store::staging::list(db)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.staging_config_id == id)
        .unwrap()
}

/// Waits until the config has `ready` ready sessions and `used` handed over.
async fn wait_pool(db: &PgPool, id: Uuid, ready: i64, used: i64) {
    wait_for(&format!("{ready} ready and {used} used"), 60, || async {
        let now = config(db, id).await;
        (now.ready == ready && now.used == used && now.starting == 0).then_some(())
    })
    .await
}

/// The staged (owner-less, live) sessions and their secrets.
async fn staged(db: &PgPool) -> Vec<(Uuid, String)> {
    sqlx::query_as(
        "SELECT session_id, session_secret FROM sessions
         WHERE user_id IS NULL AND operational_status = 'running' ORDER BY session_id",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

async fn users(db: &PgPool, count: i32) -> Vec<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO users (user_id, username) SELECT gen_random_uuid(), 'pool' || n || '-' || gen_random_uuid()
         FROM generate_series(1, $1) n RETURNING user_id",
    )
    .bind(count)
    .fetch_all(db)
    .await
    .unwrap()
}

/// An app with a fake agent, an image everyone may use, and a pool of `desired` for it.
async fn pool(db: &PgPool, agent: Arc<FakeAgent>, desired: i32) -> (TestApp, Uuid, Uuid) {
    let app = app_with(db.clone(), agent).await;
    online_server(db, 40).await;
    let image_id = insert_image(db, "Pooled").await;
    store::group_access::assign_image(db, store::groups::ALL_USERS, image_id, true)
        .await
        .unwrap();
    let input = ConfigInput {
        image_id,
        server_id: None,
        desired,
        expiry_secs: 600,
    };
    let config_id = store::staging::create(db, &input).await.unwrap();
    (app, image_id, config_id)
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn concurrent_launches_never_share_a_staged_session_and_the_pool_refills(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let (app, image_id, config_id) = pool(&db, agent.clone(), 4).await;
    wait_pool(&db, config_id, 4, 0).await;
    let before = staged(&db).await;
    let pooled: HashSet<Uuid> = before.iter().map(|(id, _)| *id).collect();

    let people = users(&db, 8).await;
    let launches = people.iter().map(|&user| {
        let manager = app.manager.clone();
        async move { (user, manager.request_session(user, image_id).await.unwrap()) }
    });
    let launched = futures_util::future::join_all(launches).await;
    let ids: HashSet<Uuid> = launched.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), 8, "two launches got the same session");
    let handed: Vec<&(Uuid, Uuid)> = launched
        .iter()
        .filter(|(_, id)| pooled.contains(id))
        .collect();
    assert_eq!(handed.len(), 4, "every ready staged session is taken once");

    let replaced = agent.replaced.lock().unwrap().clone();
    for (user, session_id) in handed {
        let (owner, secret): (Option<Uuid>, String) =
            sqlx::query_as("SELECT user_id, session_secret FROM sessions WHERE session_id = $1")
                .bind(session_id)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(owner, Some(*user));
        let old = &before.iter().find(|(id, _)| id == session_id).unwrap().1;
        assert_ne!(&secret, old, "the hand-over gives a fresh secret");
        // The container was told the new secret, once.
        let told: Vec<_> = replaced.iter().filter(|(id, _)| id == session_id).collect();
        assert_eq!(told, [&(*session_id, secret.clone())]);
    }
    wait_pool(&db, config_id, 4, 4).await;

    // The pool's figures reach /metrics.
    let (admin, _) = app.signed_in("metrics-admin", "admin").await;
    let body = admin
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let staged = |state| {
        let labels = [("image", "Pooled"), ("server", "any"), ("state", state)];
        sample(&body, "berth_staged_sessions", &labels)
    };
    assert_eq!((staged("ready"), staged("used")), (Some(4.0), Some(4.0)));
    let handed = sample(
        &body,
        "berth_staging_hand_overs_total",
        &[("outcome", "handed_over")],
    );
    assert!(handed >= Some(4.0), "{handed:?}");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_staged_session_goes_only_to_a_launch_allowed_its_image_and_fitting_it(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let (app, _, _) = pool(&db, agent.clone(), 0).await;
    // An image of no group: only administrators may use it.
    let private = insert_image(&db, "Private").await;
    store::group_access::assign_image(&db, store::groups::ALL_USERS, private, false)
        .await
        .unwrap();
    let input = ConfigInput {
        image_id: private,
        server_id: None,
        desired: 1,
        expiry_secs: 600,
    };
    let private_config = store::staging::create(&db, &input).await.unwrap();
    wait_pool(&db, private_config, 1, 0).await;
    let ready = staged(&db).await;

    let carol = users(&db, 1).await[0];
    let refused = app.manager.request_session(carol, private).await;
    assert!(
        matches!(refused, Err(ControlError::NotAllowed(_))),
        "{refused:?}"
    );
    assert_eq!(
        staged(&db).await,
        ready,
        "nothing was handed to a user not allowed the image"
    );
    assert_eq!(config(&db, private_config).await.used, 0);

    // Allowed, but asking for its own environment: a staged container cannot take it.
    let admin: Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE role = 'admin'")
        .fetch_one(&db)
        .await
        .unwrap();
    let mut environment = serde_json::Map::new();
    environment.insert("APP_MODE".into(), "kiosk".into());
    let options = LaunchOptions {
        environment,
        ..Default::default()
    };
    let cold = app
        .manager
        .request_session_with(admin, private, options)
        .await
        .unwrap();
    assert!(!ready.iter().any(|(id, _)| *id == cold), "a cold launch");
    let handed = app.manager.request_session(admin, private).await.unwrap();
    assert!(
        ready.iter().any(|(id, _)| *id == handed),
        "a plain launch takes it"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_user_limit_holds_for_hand_overs(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let (app, image_id, config_id) = pool(&db, agent.clone(), 2).await;
    wait_pool(&db, config_id, 2, 0).await;
    sqlx::query("UPDATE settings SET value = '1' WHERE name = 'max_kasms_per_user'")
        .execute(&db)
        .await
        .unwrap();
    let user = users(&db, 1).await[0];
    app.manager.request_session(user, image_id).await.unwrap();
    let second = app.manager.request_session(user, image_id).await;
    assert!(
        matches!(second, Err(ControlError::LimitReached(_))),
        "{second:?}"
    );
    assert_eq!(config(&db, config_id).await.used, 1);
}

/// What a previous Berth left: a ready staged session and one still queued by a replica
/// that is gone (written in the caller's transaction).
async fn left_by_a_previous_berth(
    db: &mut sqlx::PgConnection,
    image_id: Uuid,
    config_id: Uuid,
) -> (Uuid, Uuid) {
    let server_id: Uuid = sqlx::query_scalar("SELECT server_id FROM servers")
        .fetch_one(&mut *db)
        .await
        .unwrap();
    let (ready, queued) = (Uuid::new_v4(), Uuid::new_v4());
    let spec = serde_json::json!({
        "session_id": queued, "user_id": Uuid::nil(), "image_id": image_id,
        "image": "berth/desktop:latest", "image_name": "Pooled", "cores": 1.0,
        "memory": 1i64 << 30, "network_mode": "bridge", "run_config": {}, "start_url": null,
        "server_id": server_id, "staging_config_id": config_id,
    });
    for (id, status, spec) in [
        (ready, "running", None),
        (queued, "provisioning", Some(spec)),
    ] {
        sqlx::query(
            "INSERT INTO sessions (session_id, user_id, image_id, server_id, session_secret, operational_status,
                 cores, memory, expiration_date, container_id, port, hostname, supervisor, launch_spec,
                 staging_config_id, start_date)
             VALUES ($1, NULL, $2, $3, 'pool-secret-xyz', $4, 1, 1073741824, now() + interval '10 minutes',
                 'c-old', 40000, '127.0.0.1', $5, $6, $7, now())",
        )
        .bind(id)
        .bind(image_id)
        .bind(server_id)
        .bind(status)
        .bind(Uuid::new_v4())
        .bind(spec)
        .bind(config_id)
        .execute(&mut *db)
        .await
        .unwrap();
    }
    (ready, queued)
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_restart_keeps_ready_staged_sessions_and_finishes_queued_ones(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    // Desired 0 until the previous Berth's rows are in, then 2: exactly those two. One
    // transaction, so that no sweep sees the rows while 0 are desired (it would recycle them).
    let (_app, image_id, config_id) = pool(&db, agent.clone(), 0).await;
    let mut tx = db.begin().await.unwrap();
    let (ready, queued) = left_by_a_previous_berth(&mut tx, image_id, config_id).await;
    sqlx::query("UPDATE staging_configs SET desired = 2")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    wait_pool(&db, config_id, 2, 0).await;
    let now: HashSet<Uuid> = staged(&db).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(now, HashSet::from([ready, queued]));
    assert_eq!(*agent.created.lock().unwrap(), vec![queued]);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn expired_and_orphaned_staged_sessions_are_recycled_and_replaced(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let (_app, _, config_id) = pool(&db, agent.clone(), 1).await;
    wait_pool(&db, config_id, 1, 0).await;
    let first = staged(&db).await[0].0;
    sqlx::query(
        "UPDATE sessions SET expiration_date = now() - interval '1 second' WHERE session_id = $1",
    )
    .bind(first)
    .execute(&db)
    .await
    .unwrap();
    wait_for("the expired staged session to be replaced", 60, || async {
        let now = staged(&db).await;
        (now.len() == 1 && now[0].0 != first).then_some(())
    })
    .await;
    assert!(agent.removed.lock().unwrap().contains(&first));

    // Its config deleted, the pool's sessions go.
    store::staging::delete(&db, config_id).await.unwrap();
    wait_for("the orphaned staged session to go", 60, || async {
        staged(&db).await.is_empty().then_some(())
    })
    .await;
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn replicas_tending_the_pool_at_once_never_stage_more_than_it_wants(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    online_server(&db, 40).await;
    let image_id = insert_image(&db, "Pooled").await;
    let input = ConfigInput {
        image_id,
        server_id: None,
        desired: 2,
        expiry_secs: 600,
    };
    let config_id = store::staging::create(&db, &input).await.unwrap();
    let replica = || {
        let config = berth::manager::ManagerConfig {
            launch_timeout: std::time::Duration::from_secs(60),
            sweep_interval: std::time::Duration::from_secs(3600),
            launches_per_agent: berth::startup::LAUNCHES_PER_AGENT,
        };
        berth::manager::Manager::with_agent_client(db.clone(), config, agent.clone())
    };
    let replicas: Vec<_> = (0..3).map(|_| replica()).collect();
    futures_util::future::join_all(replicas.iter().map(|manager| manager.tend_pool())).await;

    // Every session ever staged counts (a surplus recycled later would still show here).
    let staged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE staging_config_id = $1")
            .bind(config_id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(staged, 2);
}
