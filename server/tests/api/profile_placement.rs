//! Placement and persistent profiles: a profile lives on one host, so a launch that mounts it
//! goes to the host that holds it when that host has room (and elsewhere only when not).
use crate::groups::group_with;
use crate::manager_races::{app_with, online_server, wait_status, FakeAgent};
use crate::support::insert_image;
use app::model::SessionStatus;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

/// Runs the session to the end, so that its profile is free again.
async fn run_and_delete(app: &crate::support::TestApp, session_id: Uuid) {
    wait_status(&app.db, session_id, SessionStatus::Running).await;
    app.manager
        .destroy_session(session_id, "test")
        .await
        .unwrap();
    wait_status(&app.db, session_id, SessionStatus::Deleted).await;
}

async fn server_of(db: &PgPool, session_id: Uuid) -> Uuid {
    sqlx::query_scalar("SELECT server_id FROM sessions WHERE session_id = $1")
        .bind(session_id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_profile_brings_its_user_back_to_the_host_that_holds_it(db: PgPool) {
    let agent = Arc::new(FakeAgent::default());
    let app = app_with(db.clone(), agent).await;
    let image = insert_image(&db, "Profiled").await;
    store::group_access::assign_image(&db, store::groups::ALL_USERS, image, true)
        .await
        .unwrap();
    let storage = store::profiles::ImageStorage {
        persistent_profile_path: "{user_id}".into(),
        volume_mappings: json!({}),
    };
    store::profiles::set_image_storage(&db, image, &storage)
        .await
        .unwrap();
    let ann = app.create_user("ann", "password-123", "user").await;
    group_with(
        &app,
        "keepers",
        &[ann],
        json!({"allow_persistent_profile": true}),
    )
    .await;

    // The first session goes to the emptier host, and its profile is created there.
    let small = online_server(&db, 3).await;
    let first = app.manager.request_session(ann, image).await.unwrap();
    assert_eq!(server_of(&db, first).await, small);
    run_and_delete(&app, first).await;

    // A bigger, emptier host arrives; least load alone would choose it.
    let big = online_server(&db, 40).await;
    let again = app.manager.request_session(ann, image).await.unwrap();
    assert_eq!(
        server_of(&db, again).await,
        small,
        "back to the profile's host"
    );
    run_and_delete(&app, again).await;

    // Someone without a profile goes by load.
    let bob = app.create_user("bob", "password-123", "user").await;
    let other = app.manager.request_session(bob, image).await.unwrap();
    assert_eq!(server_of(&db, other).await, big);

    // With the profile's host full, the session goes where there is room.
    sqlx::query("UPDATE servers SET cores = 0 WHERE server_id = $1")
        .bind(small)
        .execute(&db)
        .await
        .unwrap();
    let elsewhere = app.manager.request_session(ann, image).await.unwrap();
    assert_eq!(server_of(&db, elsewhere).await, big);
}
