//! Admin → Sessions through its server functions.
use crate::support::{audit_entries, error_json, insert_image, insert_session, spawn_app, TestApp};
use reqwest::{Client, StatusCode};
use sqlx::PgPool;
use uuid::Uuid;

async fn list(app: &TestApp, admin: &Client, include_deleted: bool) -> Vec<serde_json::Value> {
    let response = app
        .call(
            admin,
            "admin/list_sessions",
            &[("include_deleted", &include_deleted.to_string())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let rows: serde_json::Value = response.json().await.unwrap();
    rows.as_array().unwrap().clone()
}

async fn status_of(db: &PgPool, session_id: Uuid) -> String {
    sqlx::query_scalar("SELECT operational_status FROM sessions WHERE session_id = $1")
        .bind(session_id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admins_see_every_session_and_ended_ones_on_request(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let server_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO servers (server_id, hostname, status) VALUES ($1, 'host-a', 'online')",
    )
    .bind(server_id)
    .execute(&app.db)
    .await
    .unwrap();
    let desktop = insert_image(&app.db, "Desktop").await;
    let firefox = insert_image(&app.db, "Firefox").await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let bob = app.create_user("bob", "password-123", "user").await;
    let running = insert_session(
        &app.db,
        ann,
        desktop,
        Some(server_id),
        "running",
        1.0,
        1 << 30,
    )
    .await;
    let waiting = insert_session(&app.db, bob, firefox, None, "requested", 1.0, 1 << 30).await;
    let ended = insert_session(&app.db, bob, desktop, None, "deleted", 1.0, 1 << 30).await;

    let live = list(&app, &admin, false).await;
    let ids: Vec<&str> = live
        .iter()
        .map(|row| row["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{live:?}");
    assert!(
        ids.contains(&running.to_string().as_str()) && ids.contains(&waiting.to_string().as_str())
    );
    let row = live
        .iter()
        .find(|row| row["session_id"] == running.to_string())
        .unwrap();
    assert_eq!(row["username"], "ann");
    assert_eq!(row["image_name"], "Desktop");
    assert_eq!(row["hostname"], "host-a");
    assert_eq!(row["status"], "running");
    assert_eq!(row["message"], "Test session");
    assert_eq!(row["progress"], 100);
    assert!(row["age_secs"].as_i64().unwrap() < 60);
    assert!(
        (3000..=3600).contains(&row["expires_in_secs"].as_i64().unwrap()),
        "{row}"
    );
    assert!(row["expires"].as_str().unwrap().ends_with("UTC"));
    let row = live
        .iter()
        .find(|row| row["session_id"] == waiting.to_string())
        .unwrap();
    assert_eq!(
        (
            row["username"].as_str(),
            row["image_name"].as_str(),
            row["hostname"].as_str()
        ),
        (Some("bob"), Some("Firefox"), Some(""))
    );

    let all = list(&app, &admin, true).await;
    assert_eq!(all.len(), 3);
    assert!(all
        .iter()
        .any(|row| row["session_id"] == ended.to_string() && row["status"] == "deleted"));

    let page = admin.get(app.url("/admin/sessions")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"data-session-id="{running}""#)),
        "{html}"
    );
    assert!(!html.contains(&format!(r#"data-session-id="{ended}""#)));
    assert!(html.contains(r#"href="/admin/sessions""#));
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admins_destroy_any_session_through_the_manager(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, admin_id) = app.signed_in("root", "admin").await;
    let image = insert_image(&app.db, "Desktop").await;
    let ann = app.create_user("ann", "password-123", "user").await;
    // No server: the manager ends it without contacting any agent.
    let session_id = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let id = session_id.to_string();

    let destroyed = app
        .call(&admin, "admin/destroy_session", &[("session_id", &id)])
        .await;
    assert_eq!(destroyed.status(), StatusCode::OK);
    assert_eq!(status_of(&app.db, session_id).await, "deleted");
    let ended: bool =
        sqlx::query_scalar("SELECT destroyed_date IS NOT NULL FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(ended);
    assert_eq!(
        audit_entries(&app.db, "admin_destroy_session").await,
        vec![(Some(admin_id), id.clone())]
    );
    assert!(list(&app, &admin, false).await.is_empty());

    // Destroying it again is harmless; unknown and malformed ids are refused.
    let again = app
        .call(&admin, "admin/destroy_session", &[("session_id", &id)])
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let unknown = app
        .call(
            &admin,
            "admin/destroy_session",
            &[("session_id", &Uuid::new_v4().to_string())],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let malformed = app
        .call(&admin, "admin/destroy_session", &[("session_id", "nope")])
        .await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(error_json(malformed)
        .await
        .to_string()
        .contains("\"field\":\"session_id\""));
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn session_administration_is_closed_to_others(db: PgPool) {
    let app = spawn_app(db).await;
    let image = insert_image(&app.db, "Desktop").await;
    let (user, ann) = app.signed_in("ann", "user").await;
    let session_id = insert_session(&app.db, ann, image, None, "running", 1.0, 1 << 30).await;
    let id = session_id.to_string();
    app.assert_admin_only(
        &user,
        &[
            ("admin/list_sessions", vec![("include_deleted", "true")]),
            ("admin/destroy_session", vec![("session_id", id.as_str())]),
        ],
    )
    .await;
    assert_eq!(
        status_of(&app.db, session_id).await,
        "running",
        "a refused destroy ended the session"
    );
    for page in ["/admin/images", "/admin/servers", "/admin/sessions"] {
        let response = user.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{page}");
        assert!(
            !response.text().await.unwrap().contains("data-session-id"),
            "{page}"
        );
    }
}
