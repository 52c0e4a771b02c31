//! Admin → Images through its server functions.
use crate::support::{audit_entries, error_json, insert_session, message_of, spawn_app, TestApp};
use reqwest::{Client, StatusCode};
use sqlx::PgPool;
use uuid::Uuid;

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// The form the page posts, with some fields changed ("<absent>" leaves a field out, as an
/// unchecked checkbox does).
fn image_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("image_id", ""),
        ("friendly_name", "Terminal"),
        ("name", "berth/desktop:latest"),
        ("description", "A terminal"),
        ("image_src", "/img/desktop.svg"),
        ("categories", "Tools, Dev"),
        ("cores", "0.5"),
        ("memory", "768m"),
        ("network_mode", "bridge"),
        ("enabled", "on"),
        ("run_config", r#"{"shm_size": 268435456}"#),
    ];
    for (key, value) in changes {
        match form.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => form.push((key, value)),
        }
    }
    form.retain(|(_, value)| *value != "<absent>");
    form
}

async fn save(app: &TestApp, admin: &Client, changes: &[(&str, &str)]) -> String {
    let response = app
        .call(admin, "admin/save_image", &image_form(changes))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{changes:?}");
    response.json().await.unwrap()
}

/// Every image row, as one text to compare before and after.
async fn snapshot(db: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY image_id), '[]')::text FROM images i",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admins_register_edit_disable_and_delete_images(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, admin_id) = app.signed_in("root", "admin").await;

    let id = save(&app, &admin, &[]).await;
    let listed: serde_json::Value = app
        .call(&admin, "admin/list_images", &[])
        .await
        .json()
        .await
        .unwrap();
    let image = &listed.as_array().unwrap()[0];
    assert_eq!(image["image_id"], id.as_str());
    assert_eq!(image["friendly_name"], "Terminal");
    assert_eq!(image["name"], "berth/desktop:latest");
    assert_eq!(image["description"], "A terminal");
    assert_eq!(image["image_src"], "/img/desktop.svg");
    assert_eq!(image["memory"], 768i64 << 20);
    assert_eq!(image["cores"], 0.5);
    assert_eq!(image["categories"], serde_json::json!(["Tools", "Dev"]));
    assert_eq!(image["network_mode"], "bridge");
    assert_eq!(image["enabled"], true);
    assert_eq!(image["live_sessions"], 0);
    let run_config: serde_json::Value =
        serde_json::from_str(image["run_config"].as_str().unwrap()).unwrap();
    assert_eq!(run_config, serde_json::json!({"shm_size": 268435456}));

    // Edit (an unchecked box means disabled), with plain bytes for memory.
    let edited = save(
        &app,
        &admin,
        &[
            ("image_id", &id),
            ("friendly_name", "Terminal 2"),
            ("cores", "2"),
            ("memory", "1073741824"),
            ("network_mode", "none"),
            ("categories", ""),
            ("run_config", ""),
            ("enabled", "<absent>"),
        ],
    )
    .await;
    assert_eq!(edited, id);
    let row: (String, f64, i64, String, Vec<String>, bool, serde_json::Value) = sqlx::query_as(
        "SELECT friendly_name, cores, memory, network_mode, categories, enabled, run_config FROM images",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "Terminal 2".into(),
            2.0,
            1 << 30,
            "none".into(),
            vec![],
            false,
            serde_json::json!({})
        )
    );

    let enabled = app
        .call(
            &admin,
            "admin/set_image_enabled",
            &[("image_id", &id), ("enabled", "true")],
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    let on: bool = sqlx::query_scalar("SELECT enabled FROM images")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(on);

    // Unknown images are 404s; malformed ids are 400s naming image_id.
    for (endpoint, form) in [
        (
            "admin/set_image_enabled",
            vec![("image_id", NIL), ("enabled", "false")],
        ),
        ("admin/delete_image", vec![("image_id", NIL)]),
        (
            "admin/save_image",
            image_form(&[("image_id", NIL), ("friendly_name", "Ghost")]),
        ),
    ] {
        let response = app.call(&admin, endpoint, &form).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{endpoint}");
    }
    let bad_id = app
        .call(&admin, "admin/delete_image", &[("image_id", "nope")])
        .await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    assert!(error_json(bad_id)
        .await
        .to_string()
        .contains("\"image_id\""));

    // A live session blocks deletion (422, nothing deleted); ended sessions do not.
    let user = app.create_user("ann", "password-123", "user").await;
    let image_id: Uuid = id.parse().unwrap();
    let ended = insert_session(&app.db, user, image_id, None, "deleted", 1.0, 1 << 30).await;
    sqlx::query(
        "INSERT INTO chat_messages (session_id, user_id, username, body) VALUES ($1, $2, 'ann', 'hi')",
    )
    .bind(ended)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let live = insert_session(&app.db, user, image_id, None, "paused", 1.0, 1 << 30).await;
    let listed: serde_json::Value = app
        .call(&admin, "admin/list_images", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["live_sessions"], 1);
    let refused = app
        .call(&admin, "admin/delete_image", &[("image_id", &id)])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = message_of(&error_json(refused).await);
    assert!(
        message.contains("1 session(s) still use this image"),
        "{message}"
    );
    let counts: (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM sessions)")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(counts, (1, 2), "a refused delete changed something");

    sqlx::query("UPDATE sessions SET operational_status = 'deleted' WHERE session_id = $1")
        .bind(live)
        .execute(&app.db)
        .await
        .unwrap();
    let deleted = app
        .call(&admin, "admin/delete_image", &[("image_id", &id)])
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM sessions), (SELECT count(*) FROM chat_messages)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        counts,
        (0, 0, 0),
        "the ended sessions' records go with the image"
    );

    for (action, target) in [
        ("create_image", "Terminal".to_owned()),
        ("update_image", id.clone()),
        ("enable_image", id.clone()),
        ("delete_image", id.clone()),
    ] {
        assert_eq!(
            audit_entries(&app.db, action).await,
            vec![(Some(admin_id), target)],
            "{action}"
        );
    }
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn bad_image_input_is_refused_naming_the_field_and_changes_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let terminal = save(&app, &admin, &[]).await;
    let other = save(&app, &admin, &[("friendly_name", "Other")]).await;
    let before = snapshot(&app.db).await;

    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let bad = StatusCode::BAD_REQUEST;
    let cases: Vec<Case> = vec![
        (vec![("cores", "0")], bad, "cores"),
        (vec![("cores", "-1")], bad, "cores"),
        (vec![("cores", "65")], bad, "cores"),
        (vec![("cores", "many")], bad, "cores"),
        (vec![("memory", "-2g")], bad, "memory"),
        (vec![("memory", "0")], bad, "memory"),
        (vec![("memory", "lots")], bad, "memory"),
        (vec![("run_config", "{not json")], bad, "run_config"),
        (vec![("run_config", "[]")], bad, "run_config"),
        (
            vec![("run_config", r#"{"privileged": true}"#)],
            bad,
            "run_config",
        ),
        (vec![("network_mode", "host")], bad, "network_mode"),
        (vec![("name", "")], bad, "name"),
        (vec![("name", "not an image")], bad, "name"),
        (vec![("friendly_name", "  ")], bad, "friendly_name"),
        (vec![("image_src", "javascript:alert(1)")], bad, "image_src"),
    ];
    for (changes, status, field) in cases {
        // As a new image and as an edit of an existing one.
        for image_id in ["", terminal.as_str()] {
            let mut changes = changes.clone();
            changes.push(("image_id", image_id));
            changes.push(("friendly_name", "Fresh"));
            changes.rotate_right(2);
            let response = app
                .call(&admin, "admin/save_image", &image_form(&changes))
                .await;
            assert_eq!(response.status(), status, "{changes:?}");
            let error = error_json(response).await;
            assert!(
                error
                    .to_string()
                    .contains(&format!("\"field\":\"{field}\"")),
                "{changes:?}: {error}"
            );
        }
    }

    // Friendly names are unique regardless of case: 422 naming the field.
    for (image_id, name) in [("", "terminal"), (other.as_str(), "TERMINAL")] {
        let response = app
            .call(
                &admin,
                "admin/save_image",
                &image_form(&[("image_id", image_id), ("friendly_name", name)]),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}"
        );
        let error = error_json(response).await;
        assert!(
            error.to_string().contains("\"field\":\"friendly_name\""),
            "{error}"
        );
    }
    assert_eq!(
        snapshot(&app.db).await,
        before,
        "a refused save changed the images"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn image_administration_is_closed_to_others(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let id = save(&app, &admin, &[]).await;
    let before = snapshot(&app.db).await;
    let (user, _) = app.signed_in("ann", "user").await;
    app.assert_admin_only(
        &user,
        &[
            ("admin/list_images", vec![]),
            ("admin/save_image", image_form(&[])),
            (
                "admin/save_image",
                image_form(&[("image_id", &id), ("cores", "4")]),
            ),
            (
                "admin/set_image_enabled",
                vec![("image_id", id.as_str()), ("enabled", "false")],
            ),
            ("admin/delete_image", vec![("image_id", id.as_str())]),
        ],
    )
    .await;
    assert_eq!(snapshot(&app.db).await, before);

    let page = user.get(app.url("/admin/images")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(
        !page.text().await.unwrap().contains("data-name="),
        "image rows leaked into the 403 page"
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_images_page_lists_images_under_the_admin_tabs(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    save(&app, &admin, &[("memory", "2g")]).await;
    let page = admin.get(app.url("/admin/images")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"data-name="Terminal""#), "{html}");
    assert!(html.contains("2 GiB"), "memory is shown human-readably");
    assert!(html.contains(r#"id="image-form""#));
    for tab in [
        "/admin/users",
        "/admin/images",
        "/admin/servers",
        "/admin/sessions",
    ] {
        assert!(html.contains(&format!(r#"href="{tab}""#)), "{tab}");
    }
}
