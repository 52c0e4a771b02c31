//! `default_image`: the workspace a user's groups launch on sign-in. Right after signing in
//! the page asks `sessions/default`: the user's live session of that workspace (no second
//! one), else a new launch; nothing when no group sets one; a workspace outside their groups
//! is refused as any launch is.
use crate::groups::group_with;
use crate::support::{error_json, insert_image, insert_session, message_of, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use store::groups::ALL_USERS;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn sign_in_opens_the_default_workspace_of_the_users_groups(db: PgPool) {
    let app = spawn_app(db).await;
    let (ann_http, ann) = app.signed_in("ann", "user").await;
    let (bob_http, bob) = app.signed_in("bob", "user").await;
    let (cid_http, _) = app.signed_in("cid", "user").await;
    let (dan_http, dan) = app.signed_in("dan", "user").await;
    let desk = insert_image(&app.db, "Desk").await;
    let secret = insert_image(&app.db, "Secret").await;
    store::group_access::assign_image(&app.db, ALL_USERS, secret, false)
        .await
        .unwrap();
    let running = insert_session(&app.db, ann, desk, None, "running", 1.0, 1 << 30).await;
    let starts_desk = json!({"default_image": desk.to_string()});
    group_with(&app, "Desk first", &[ann, bob], starts_desk).await;
    let starts_secret = json!({"default_image": secret.to_string()});
    group_with(&app, "Secret first", &[dan], starts_secret).await;

    // Ann has a live session of it: that one, twice, and no new launch.
    for _ in 0..2 {
        let response = app.call(&ann_http, "sessions/default", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer, json!(running.to_string()));
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = $1")
        .bind(ann)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // Bob has none: a launch is asked for (with no agent here, it finds no capacity).
    let response = app.call(&bob_http, "sessions/default", &[]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE user_id = $1)"
    )
    .bind(bob)
    .fetch_one(&app.db)
    .await
    .unwrap());

    // Cid's groups set none: nothing to open.
    let response = app.call(&cid_http, "sessions/default", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), Value::Null);

    // Dan's default is not among his groups' workspaces: refused by name.
    let response = app.call(&dan_http, "sessions/default", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let message = message_of(&error_json(response).await);
    assert!(message.contains("Secret"), "{message}");
}
