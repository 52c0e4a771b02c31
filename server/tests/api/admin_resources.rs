//! Admin → Images, Servers and Sessions through their server functions.
use crate::support::{error_json, message_of, spawn_app};
use reqwest::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

fn image_form<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("image_id", ""),
        ("friendly_name", "Terminal"),
        ("name", "berth/desktop:latest"),
        ("description", "A terminal"),
        ("image_src", ""),
        ("categories", "Tools, Dev"),
        ("cores", "0.5"),
        ("memory", "768m"),
        ("network_mode", "bridge"),
        ("enabled", "on"),
        ("run_config", r#"{"shm_size": 268435456}"#),
    ];
    for (key, value) in overrides {
        match form.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => form.push((key, value)),
        }
    }
    form.retain(|(_, value)| *value != "<absent>");
    form
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admins_register_edit_disable_and_delete_images(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;

    let created = app.call(&admin, "admin/save_image", &image_form(&[])).await;
    assert_eq!(created.status(), StatusCode::OK);
    let id: String = created.json().await.unwrap();
    let listed: serde_json::Value = app
        .call(&admin, "admin/list_images", &[])
        .await
        .json()
        .await
        .unwrap();
    let image = &listed.as_array().unwrap()[0];
    assert_eq!(image["friendly_name"], "Terminal");
    assert_eq!(image["memory"], 768i64 << 20);
    assert_eq!(image["cores"], 0.5);
    assert_eq!(image["categories"], serde_json::json!(["Tools", "Dev"]));
    assert_eq!(image["enabled"], true);

    // Edit (unchecked box = disabled), then enable again.
    let edited = app
        .call(
            &admin,
            "admin/save_image",
            &image_form(&[("image_id", &id), ("cores", "2"), ("enabled", "<absent>")]),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let (cores, enabled): (f64, bool) = sqlx::query_as("SELECT cores, enabled FROM images")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((cores, enabled), (2.0, false));
    let enabled = app
        .call(
            &admin,
            "admin/set_image_enabled",
            &[("image_id", &id), ("enabled", "true")],
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);

    // A live session blocks deletion; once it ended, the image goes (with the ended record).
    let user = app.create_user("ann", "password-123", "user").await;
    let kasm_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO kasms (kasm_id, user_id, image_id, session_secret, operational_status, cores, memory, expiration_date)
         VALUES ($1, $2, $3::uuid, 'x', 'running', 1, 1, now() + interval '1 hour')",
    )
    .bind(kasm_id)
    .bind(user)
    .bind(&id)
    .execute(&app.db)
    .await
    .unwrap();
    let refused = app
        .call(&admin, "admin/delete_image", &[("image_id", &id)])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message_of(&error_json(refused).await).contains("still use this image"));
    sqlx::query("UPDATE kasms SET operational_status = 'deleted'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        app.call(&admin, "admin/delete_image", &[("image_id", &id)])
            .await
            .status(),
        StatusCode::OK
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM images")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn bad_image_input_is_refused_naming_the_field_and_changes_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    app.call(&admin, "admin/save_image", &image_form(&[])).await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("cores", "0")], StatusCode::BAD_REQUEST, "cores"),
        (vec![("cores", "-1")], StatusCode::BAD_REQUEST, "cores"),
        (vec![("memory", "-2g")], StatusCode::BAD_REQUEST, "memory"),
        (vec![("memory", "lots")], StatusCode::BAD_REQUEST, "memory"),
        (
            vec![("run_config", "{not json")],
            StatusCode::BAD_REQUEST,
            "run_config",
        ),
        (
            vec![("run_config", r#"{"privileged": true}"#)],
            StatusCode::BAD_REQUEST,
            "run_config",
        ),
        (
            vec![("network_mode", "host")],
            StatusCode::BAD_REQUEST,
            "network_mode",
        ),
        (vec![("name", "")], StatusCode::BAD_REQUEST, "name"),
        (
            vec![("friendly_name", "terminal")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "friendly_name",
        ),
    ];
    for (changes, status, field) in cases {
        let mut form = image_form(&changes);
        if field == "friendly_name" {
            form.retain(|(k, _)| *k != "image_id");
            form.push(("image_id", ""));
        }
        let response = app.call(&admin, "admin/save_image", &form).await;
        assert_eq!(response.status(), status, "{changes:?}");
        let error = error_json(response).await;
        assert!(
            error.to_string().contains(&format!("\"{field}\"")),
            "{changes:?}: {error}"
        );
    }
    let images: i64 = sqlx::query_scalar("SELECT count(*) FROM images")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(images, 1);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admins_steer_servers_and_see_their_allocation(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let server_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO servers (server_id, hostname, status, cores, memory, last_checkin) VALUES ($1, 'host-a', 'online', 8, $2, now())",
    )
    .bind(server_id)
    .bind(16i64 << 30)
    .execute(&app.db)
    .await
    .unwrap();
    berth::manager::images::register_defaults(&app.db)
        .await
        .unwrap();
    let user = app.create_user("ann", "password-123", "user").await;
    sqlx::query(
        "INSERT INTO kasms (kasm_id, user_id, image_id, server_id, session_secret, operational_status, cores, memory, expiration_date)
         SELECT gen_random_uuid(), $1, image_id, $2, 'x', 'running', 1.5, $3, now() + interval '1 hour' FROM images LIMIT 2",
    )
    .bind(user)
    .bind(server_id)
    .bind(1i64 << 30)
    .execute(&app.db)
    .await
    .unwrap();

    let id = server_id.to_string();
    let set = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", "4"), ("memory", "8g")],
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let drained = app
        .call(
            &admin,
            "admin/set_server_flags",
            &[
                ("server_id", &id),
                ("enabled", "true"),
                ("draining", "true"),
            ],
        )
        .await;
    assert_eq!(drained.status(), StatusCode::OK);
    let servers: serde_json::Value = app
        .call(&admin, "admin/list_servers", &[])
        .await
        .json()
        .await
        .unwrap();
    let server = &servers[0];
    assert_eq!(server["hostname"], "host-a");
    assert_eq!(server["cores"], 4.0, "overrides apply");
    assert_eq!(server["memory"], 8i64 << 30);
    assert_eq!(server["cores_allocated"], 3.0);
    assert_eq!(server["memory_allocated"], 2i64 << 30);
    assert_eq!(server["sessions"], 2);
    assert_eq!(server["draining"], true);

    let bad = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", "-1"), ("memory", "")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let cleared = app
        .call(
            &admin,
            "admin/set_server_overrides",
            &[("server_id", &id), ("cores", ""), ("memory", "")],
        )
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    let (cores_override,): (Option<f64>,) = sqlx::query_as("SELECT cores_override FROM servers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(cores_override, None);

    // Sessions: listed for the admin, destroyed through the manager.
    let sessions: serde_json::Value = app
        .call(
            &admin,
            "admin/list_sessions",
            &[("include_deleted", "false")],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert_eq!(sessions[0]["username"], "ann");
    let kasm_id = sessions[0]["kasm_id"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE kasms SET server_id = NULL WHERE kasm_id = $1::uuid")
        .bind(&kasm_id)
        .execute(&app.db)
        .await
        .unwrap();
    let destroyed = app
        .call(&admin, "admin/destroy_session", &[("kasm_id", &kasm_id)])
        .await;
    assert_eq!(destroyed.status(), StatusCode::OK);
    let status: String =
        sqlx::query_scalar("SELECT operational_status FROM kasms WHERE kasm_id = $1::uuid")
            .bind(&kasm_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status, "deleted");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn image_server_and_session_administration_is_closed_to_others(db: PgPool) {
    let app = spawn_app(db).await;
    let (user, _) = app.signed_in("ann", "user").await;
    let anonymous = app.client();
    for (endpoint, form) in [
        ("admin/list_images", vec![]),
        ("admin/save_image", image_form(&[])),
        ("admin/list_servers", vec![]),
        ("admin/list_sessions", vec![("include_deleted", "true")]),
        (
            "admin/destroy_session",
            vec![("kasm_id", "00000000-0000-0000-0000-000000000000")],
        ),
    ] {
        assert_eq!(
            app.call(&user, endpoint, &form).await.status(),
            StatusCode::FORBIDDEN,
            "{endpoint}"
        );
        assert_eq!(
            app.call(&anonymous, endpoint, &form).await.status(),
            StatusCode::UNAUTHORIZED,
            "{endpoint}"
        );
    }
    for page in ["/admin/images", "/admin/servers", "/admin/sessions"] {
        let response = user.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{page}");
    }
    let images: i64 = sqlx::query_scalar("SELECT count(*) FROM images")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(images, 0);
}
