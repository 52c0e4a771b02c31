//! Admin → Servers through its server functions.
use crate::support::{audit_entries, error_json, insert_image, insert_session, spawn_app};
use reqwest::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

const GIB: i64 = 1 << 30;

async fn insert_server(db: &PgPool, hostname: &str, cores: f64, memory: i64) -> Uuid {
    let server_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO servers (server_id, hostname, status, cores, memory, last_checkin, images_present, images_missing)
         VALUES ($1, $2, 'online', $3, $4, now() - interval '3 seconds', '{berth/desktop:latest}', '{berth/firefox:latest}')",
    )
    .bind(server_id)
    .bind(hostname)
    .bind(cores)
    .bind(memory)
    .execute(db)
    .await
    .unwrap();
    server_id
}

/// The row of `hostname` in admin/list_servers.
async fn listed(
    app: &crate::support::TestApp,
    admin: &reqwest::Client,
    hostname: &str,
) -> serde_json::Value {
    let servers: serde_json::Value = app
        .call(admin, "admin/list_servers", &[])
        .await
        .json()
        .await
        .unwrap();
    servers
        .as_array()
        .unwrap()
        .iter()
        .find(|server| server["hostname"] == hostname)
        .cloned()
        .unwrap_or_else(|| panic!("{hostname} not listed: {servers}"))
}

async fn flags_and_overrides(
    db: &PgPool,
    server_id: Uuid,
) -> (bool, bool, Option<f64>, Option<i64>) {
    sqlx::query_as(
        "SELECT enabled, draining, cores_override, memory_override FROM servers WHERE server_id = $1",
    )
    .bind(server_id)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn servers_show_capacity_with_overrides_and_what_live_sessions_allocate(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let busy = insert_server(&app.db, "host-a", 8.0, 16 * GIB).await;
    insert_server(&app.db, "host-b", 4.0, 8 * GIB).await;
    let image = insert_image(&app.db, "Desktop").await;
    let user = app.create_user("ann", "password-123", "user").await;
    for (status, cores, memory) in [
        ("running", 1.5, GIB),
        ("starting", 0.5, 512 << 20),
        ("paused", 1.0, GIB),
        // Ended sessions allocate nothing.
        ("deleted", 4.0, 4 * GIB),
    ] {
        insert_session(&app.db, user, image, Some(busy), status, cores, memory).await;
    }
    // A session on no server counts nowhere.
    insert_session(&app.db, user, image, None, "requested", 2.0, GIB).await;

    let a = listed(&app, &admin, "host-a").await;
    assert_eq!(a["server_id"], busy.to_string());
    assert_eq!(a["status"], "online");
    assert_eq!(
        (a["enabled"].as_bool(), a["draining"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(a["cores"], 8.0);
    assert_eq!(a["memory"], 16 * GIB);
    assert_eq!(a["cores_allocated"], 3.0);
    assert_eq!(a["memory_allocated"], 2 * GIB + (512 << 20));
    assert_eq!(a["sessions"], 3);
    assert!(
        (3..60).contains(&a["seconds_since_checkin"].as_i64().unwrap()),
        "{a}"
    );
    assert_eq!(
        a["images_present"],
        serde_json::json!(["berth/desktop:latest"])
    );
    assert_eq!(
        a["images_missing"],
        serde_json::json!(["berth/firefox:latest"])
    );
    let b = listed(&app, &admin, "host-b").await;
    assert_eq!(
        (
            b["cores_allocated"].as_f64(),
            b["memory_allocated"].as_i64()
        ),
        (Some(0.0), Some(0))
    );
    assert_eq!(b["sessions"], 0);

    // Overrides replace the reported capacity; clearing them brings it back.
    let id = busy.to_string();
    let set = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", "96"), ("memory", "8g")],
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let a = listed(&app, &admin, "host-a").await;
    assert_eq!(
        (a["cores"].as_f64(), a["memory"].as_i64()),
        (Some(96.0), Some(8 * GIB))
    );
    assert_eq!(
        (a["cores_override"].as_f64(), a["memory_override"].as_i64()),
        (Some(96.0), Some(8 * GIB))
    );
    let only_memory = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", ""), ("memory", "12g")],
        )
        .await;
    assert_eq!(only_memory.status(), StatusCode::OK);
    let a = listed(&app, &admin, "host-a").await;
    assert_eq!(
        (a["cores"].as_f64(), a["memory"].as_i64()),
        (Some(8.0), Some(12 * GIB))
    );
    let cleared = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", " "), ("memory", "")],
        )
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(
        flags_and_overrides(&app.db, busy).await,
        (true, false, None, None)
    );
    let a = listed(&app, &admin, "host-a").await;
    assert_eq!(
        (a["cores"].as_f64(), a["memory"].as_i64()),
        (Some(8.0), Some(16 * GIB))
    );
    assert_eq!(audit_entries(&app.db, "server_overrides").await.len(), 3);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn servers_are_enabled_disabled_drained_and_undrained(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, admin_id) = app.signed_in("root", "admin").await;
    let server = insert_server(&app.db, "host-a", 8.0, 16 * GIB).await;
    let id = server.to_string();
    for (enabled, draining) in [
        ("false", "false"),
        ("true", "true"),
        ("true", "false"),
        ("false", "true"),
    ] {
        let response = app
            .call(
                &admin,
                "admin/set_server_flags",
                &[
                    ("server_id", &id),
                    ("enabled", enabled),
                    ("draining", draining),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let (is_enabled, is_draining, ..) = flags_and_overrides(&app.db, server).await;
        assert_eq!(
            (is_enabled.to_string(), is_draining.to_string()),
            (enabled.to_owned(), draining.to_owned())
        );
        let row = listed(&app, &admin, "host-a").await;
        assert_eq!(
            (row["enabled"].to_string(), row["draining"].to_string()),
            (enabled.to_owned(), draining.to_owned())
        );
    }
    let entries = audit_entries(&app.db, "update_server").await;
    assert_eq!(entries.len(), 4);
    assert_eq!(
        entries[3],
        (Some(admin_id), format!("{id} enabled=false draining=true"))
    );

    let unknown = app
        .call(
            &admin,
            "admin/set_server_flags",
            &[
                ("server_id", "00000000-0000-0000-0000-000000000000"),
                ("enabled", "true"),
                ("draining", "false"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn bad_overrides_are_refused_naming_the_field_and_change_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let server = insert_server(&app.db, "host-a", 8.0, 16 * GIB).await;
    let id = server.to_string();
    let set = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", "6"), ("memory", "10g")],
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    for (cores, memory, field) in [
        ("0", "", "cores"),
        ("-1", "4g", "cores"),
        ("many", "", "cores"),
        ("4", "0", "memory"),
        ("", "-1g", "memory"),
        ("2", "lots", "memory"),
    ] {
        let response = app
            .call(
                &admin,
                "admin/set_server_overrides",
                &[("server_id", &id), ("cores", cores), ("memory", memory)],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{cores} {memory}"
        );
        let error = error_json(response).await;
        assert!(
            error
                .to_string()
                .contains(&format!("\"field\":\"{field}\"")),
            "{error}"
        );
        assert_eq!(
            flags_and_overrides(&app.db, server).await,
            (true, false, Some(6.0), Some(10 * GIB)),
            "{cores} {memory}"
        );
    }
    let unknown = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[
                ("server_id", "00000000-0000-0000-0000-000000000000"),
                ("cores", "2"),
                ("memory", ""),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn server_administration_is_closed_to_others(db: PgPool) {
    let app = spawn_app(db).await;
    let server = insert_server(&app.db, "host-a", 8.0, 16 * GIB).await;
    let id = server.to_string();
    let (user, _) = app.signed_in("ann", "user").await;
    app.assert_admin_only(
        &user,
        &[
            ("admin/list_servers", vec![]),
            (
                "admin/set_server_flags",
                vec![
                    ("server_id", id.as_str()),
                    ("enabled", "false"),
                    ("draining", "true"),
                ],
            ),
            (
                "admin/set_server_overrides",
                vec![("server_id", id.as_str()), ("cores", "1"), ("memory", "1g")],
            ),
        ],
    )
    .await;
    assert_eq!(
        flags_and_overrides(&app.db, server).await,
        (true, false, None, None)
    );
    let page = user.get(app.url("/admin/servers")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(!page.text().await.unwrap().contains("host-a"));
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_servers_page_offers_adding_an_agent_and_shows_no_credential(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    insert_server(&app.db, "host-a", 8.0, 16 * GIB).await;
    let credential = crate::support::agent_credential(&app.db, "host-b").await;
    let page = admin.get(app.url("/admin/servers")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"data-hostname="host-a""#), "{html}");
    assert!(html.contains(r#"data-hostname="host-b""#), "{html}");
    assert!(html.contains(r#"id="add-server-form""#), "{html}");
    // host-a has no credential (as rows from before per-agent credentials): it says so.
    assert!(html.contains("none: cannot check in"), "{html}");
    assert!(!html.contains(credential.split_once('.').unwrap().1));
}
