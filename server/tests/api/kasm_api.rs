//! The Kasm-compatible Developer API (/api/public/*): shapes, permissions, errors, and a
//! session's life through it against real containers.
use crate::support::{api_call as call, api_key as key, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;

fn is_hex_id(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 32
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

fn is_kasm_date(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").is_ok())
}

const ALL: &[&str] = &[
    "User",
    "Users Auth Session",
    "Users View",
    "Users Create",
    "Users Modify",
    "Users Delete",
    "Sessions View",
    "Sessions Modify",
    "Images View",
];

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn users_and_images_have_kasm_shapes_and_permissions(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    app.create_user("root", "password-123", "admin").await;
    let full = key(&app, ALL, false).await;

    let (status, images) = call(&app, "get_images", &full, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let image = &images["images"][0];
    assert!(is_hex_id(&image["image_id"]), "{image}");
    for field in [
        "name",
        "friendly_name",
        "description",
        "image_src",
        "enabled",
        "available",
        "cores",
        "memory",
        "categories",
        "restrict_to_server",
        "run_config",
        "exec_config",
        "volume_mappings",
    ] {
        assert!(
            image.get(field).is_some(),
            "get_images lacks {field}: {image}"
        );
    }
    assert!(image["cores"].is_f64() && image["memory"].is_i64());

    let (status, created) = call(&app, "create_user", &full, json!({"target_user": {"username": "kim", "password": "kim-password-1", "first_name": "Kim"}})).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let user = &created["user"];
    assert!(is_hex_id(&user["user_id"]));
    assert!(is_kasm_date(&user["created"]), "{user}");
    for field in [
        "username",
        "first_name",
        "last_name",
        "phone",
        "organization",
        "locked",
        "disabled",
        "last_session",
        "password_set_date",
        "groups",
        "kasms",
    ] {
        assert!(user.get(field).is_some(), "user lacks {field}");
    }
    let user_id = user["user_id"].as_str().unwrap().to_owned();
    let (_, by_name) = call(
        &app,
        "get_user",
        &full,
        json!({"target_user": {"username": "kim"}}),
    )
    .await;
    assert_eq!(by_name["user"]["user_id"], user_id);
    let (_, all) = call(&app, "get_users", &full, json!({})).await;
    assert_eq!(all["users"].as_array().unwrap().len(), 2);

    // Errors: non-2xx with error_message.
    let (status, error) = call(&app, "request_kasm", &full, json!({"user_id": user_id})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["error_message"],
        "Missing Parameters: image_id is missing"
    );
    let (status, error) = call(
        &app,
        "get_user",
        &full,
        json!({"target_user": {"user_id": "nope"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, error) = call(
        &app,
        "request_kasm",
        &full,
        json!({"user_id": user_id, "image_id": uuid::Uuid::new_v4().simple().to_string()}),
    )
    .await;
    assert!(
        status.as_u16() >= 400 && error["error_message"].is_string(),
        "{status} {error}"
    );
    let malformed = reqwest::Client::new()
        .post(app.url("/api/public/get_users"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // Permissions: missing permission, read-only, wrong secret, revoked and expired keys.
    let viewer = key(&app, &["Images View"], false).await;
    let (status, error) = call(&app, "get_users", &viewer, json!({})).await;
    assert_eq!(
        (status, error["error_message"].clone()),
        (StatusCode::FORBIDDEN, json!("Unauthorized"))
    );
    let read_only = key(&app, ALL, true).await;
    let (status, _) = call(
        &app,
        "create_user",
        &read_only,
        json!({"target_user": {"username": "x1", "password": "x-password-1"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&app, "get_users", &read_only, json!({})).await.0,
        StatusCode::OK
    );
    let wrong = (full.0.clone(), "not-the-secret".to_owned());
    assert_eq!(
        call(&app, "get_users", &wrong, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let revoked = key(&app, ALL, false).await;
    sqlx::query("UPDATE api_keys SET revoked = true WHERE api_key = $1")
        .bind(&revoked.0)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        call(&app, "get_users", &revoked, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let expired = key(&app, ALL, false).await;
    sqlx::query("UPDATE api_keys SET expires = now() - interval '1 minute' WHERE api_key = $1")
        .bind(&expired.0)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        call(&app, "get_users", &expired, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 2, "a refused call changed users");

    let (status, _) = call(
        &app,
        "delete_user",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Reads are counted in one row per key, endpoint, outcome and minute, written shortly after.
    let mut audited: i64 = 0;
    for _ in 0..50 {
        audited = sqlx::query_scalar(
            "SELECT coalesce(sum(calls), 0)::int8 FROM audit_log WHERE action LIKE 'api:%' AND actor_api_key IS NOT NULL",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if audited >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(audited >= 10, "API calls are not audited ({audited})");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_session_lives_and_ends_through_the_api(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    app.create_user("root", "password-123", "admin").await;
    let agent = crate::docker_sessions::start_test_agent(&app).await;
    let full = key(&app, ALL, false).await;
    let (_, created) = call(
        &app,
        "create_user",
        &full,
        json!({"target_user": {"username": "kim", "password": "kim-password-1"}}),
    )
    .await;
    let user_id = created["user"]["user_id"].as_str().unwrap().to_owned();
    let (_, images) = call(&app, "get_images", &full, json!({})).await;
    let desktop = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["friendly_name"] == "Desktop")
        .unwrap()["image_id"]
        .clone();

    for (extra, problem) in [
        (
            json!({"environment": {"BERTH_SESSION_SECRET": "mine"}}),
            "is the session's own",
        ),
        (
            json!({"environment": {"LD_PRELOAD": "/tmp/evil.so"}}),
            "changes how programs",
        ),
        (
            json!({"environment": {"BASH_FUNC_ls%%": "() { id; }"}}),
            "not a plain name",
        ),
        (json!({"environment": {"GREETING": 1}}), "string values"),
        (json!({"environment": ["GREETING=hi"]}), "string values"),
        (
            json!({"kasm_url": "javascript:alert(1)"}),
            "kasm_url must be an http(s) URL",
        ),
        (
            json!({"client_timezone": "Europe/Berlin; rm -rf /"}),
            "client_timezone",
        ),
        (
            json!({"enable_sharing": "yes"}),
            "enable_sharing must be true or false",
        ),
    ] {
        let mut request = json!({"user_id": user_id, "image_id": desktop});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, error) = call(&app, "request_kasm", &full, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert!(
            error["error_message"].as_str().unwrap().contains(problem),
            "{error}"
        );
    }
    let (_, listed) = call(&app, "get_kasms", &full, json!({})).await;
    assert_eq!(
        listed["kasms"],
        json!([]),
        "a refused request_kasm started a session"
    );
    let (status, requested) = call(
        &app,
        "request_kasm",
        &full,
        json!({"user_id": user_id, "image_id": desktop, "enable_sharing": true,
               "environment": {"GREETING": "hello from the API"}, "kasm_url": "https://example.com/start",
               "client_language": "de_DE.UTF-8", "client_timezone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{requested}");
    for field in [
        "kasm_id",
        "status",
        "share_id",
        "user_id",
        "username",
        "kasm_url",
        "session_token",
    ] {
        assert!(requested.get(field).is_some(), "request_kasm lacks {field}");
    }
    let kasm_id = requested["kasm_id"].as_str().unwrap().to_owned();
    assert!(is_hex_id(&requested["kasm_id"]));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let kasm = loop {
        let (status, reply) = call(
            &app,
            "get_kasm_status",
            &full,
            json!({"user_id": user_id, "kasm_id": kasm_id}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        if let Some(kasm) = reply.get("kasm") {
            assert!(is_kasm_date(&reply["current_time"]));
            break kasm.clone();
        }
        assert!(reply["operational_progress"].is_i64(), "{reply}");
        assert!(tokio::time::Instant::now() < deadline, "never running");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(kasm["operational_status"], "running");
    for field in [
        "kasm_id",
        "user_id",
        "image_id",
        "image",
        "operational_message",
        "operational_progress",
        "container_id",
        "server_id",
        "hostname",
        "port_map",
        "share_id",
        "cores",
        "memory",
        "start_date",
        "keepalive_date",
        "expiration_date",
        "created_date",
        "client_settings",
    ] {
        assert!(kasm.get(field).is_some(), "kasm lacks {field}");
    }
    assert!(kasm["port_map"]["vnc"]["path"].is_string());
    assert!(is_kasm_date(&kasm["expiration_date"]));

    let (status, _) = call(&app, "keepalive", &full, json!({"kasm_id": kasm_id})).await;
    assert_eq!(status, StatusCode::OK);

    // The flow: exec_command_kasm answers what the command printed; the screenshot
    // is a JPEG of the desktop with its aspect kept.
    let (status, ran) = call(
        &app,
        "exec_command_kasm",
        &full,
        json!({"user_id": user_id, "kasm_id": kasm_id, "exec_config": {"cmd": "echo hi"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ran}");
    assert_eq!(
        (ran["stdout"].clone(), ran["exit_code"].clone()),
        (json!("hi\n"), json!(0))
    );
    let shot = reqwest::Client::new()
        .post(app.url("/api/public/get_kasm_screenshot"))
        .json(
            &json!({"api_key": full.0, "api_key_secret": full.1, "user_id": user_id,
                      "kasm_id": kasm_id, "width": 320, "height": 320}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(shot.status(), StatusCode::OK);
    assert_eq!(shot.headers()["content-type"], "image/jpeg");
    let picture =
        image::load_from_memory_with_format(&shot.bytes().await.unwrap(), image::ImageFormat::Jpeg)
            .expect("a JPEG");
    let (frame_width, frame_height) = crate::kasm_exec::framebuffer_size(&app.db, &kasm_id).await;
    assert_eq!(picture.width(), 320);
    let expected = (320 * frame_height + frame_width / 2) / frame_width;
    assert!(
        picture.height().abs_diff(expected) <= 1,
        "{}x{} from {frame_width}x{frame_height}",
        picture.width(),
        picture.height()
    );

    // request_kasm's environment reaches the container.
    let env = crate::docker_sessions::container_env(kasm["container_id"].as_str().unwrap()).await;
    for expected in [
        "BERTH_START_URL=https://example.com/start",
        "LANG=de_DE.UTF-8",
        "TZ=Europe/Berlin",
    ] {
        assert!(
            env.contains(&expected.to_owned()),
            "{expected} not in {env:?}"
        );
    }
    assert!(
        env.contains(&"GREETING=hello from the API".to_owned()),
        "{env:?}"
    );

    // The sign-in link: each status call rotates it; the current one signs a browser in as
    // the user and opens the session, once.
    let link = |reply: &Value| reply["kasm_url"].as_str().unwrap().to_owned();
    let status_call = || {
        call(
            &app,
            "get_kasm_status",
            &full,
            json!({"user_id": user_id, "kasm_id": kasm_id}),
        )
    };
    let (_, first) = status_call().await;
    let (_, second) = status_call().await;
    assert_ne!(first["session_token"], second["session_token"]);
    assert!(link(&second).ends_with(second["session_token"].as_str().unwrap()));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let open = |path: String| browser.get(app.url(&path)).send();
    assert_eq!(
        open(link(&first)).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "a rotated token still works"
    );
    assert_eq!(
        open(link(&requested)).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "request_kasm's token survived the status calls"
    );
    let opened = open(link(&second)).await.unwrap();
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let dashed = uuid::Uuid::parse_str(&kasm_id).unwrap();
    assert_eq!(
        opened.headers()["location"],
        format!("/session/{dashed}").as_str()
    );
    let cookie = opened.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    // Signed in as the owner: the session's own status answers.
    let page = browser
        .post(app.url("/rpc/sessions/status"))
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .form(&[("session_id", dashed.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the link did not sign in as the owner"
    );
    assert_eq!(
        open(link(&second)).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "the link worked twice"
    );
    let tampered = link(&status_call().await.1).replace(&user_id, &id_of_other(&user_id));
    assert_eq!(
        open(tampered).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // Another user joins through the share link as a viewer, with a link of their own.
    let share_id = requested["share_id"]
        .as_str()
        .expect("enable_sharing gave no share_id")
        .to_owned();
    let (_, viewer) = call(
        &app,
        "create_user",
        &full,
        json!({"target_user": {"username": "vic", "password": "vic-password-1"}}),
    )
    .await;
    let viewer_id = viewer["user"]["user_id"].as_str().unwrap().to_owned();
    let (status, joined) = call(
        &app,
        "join_kasm",
        &full,
        json!({"user_id": viewer_id, "share_id": share_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    for field in ["kasm", "kasm_url", "session_token", "username", "user_id"] {
        assert!(joined.get(field).is_some(), "join_kasm lacks {field}");
    }
    assert_eq!(joined["username"], "vic");
    assert_eq!(joined["kasm"]["kasm_id"], json!(kasm_id));
    assert_eq!(joined["kasm"]["view_only"], json!(true));
    assert!(
        joined["kasm"].get("port_map").is_none(),
        "a viewer learns where the session runs"
    );
    let opened = open(link(&joined)).await.unwrap();
    assert_eq!(
        opened.headers()["location"],
        format!("/join/{share_id}").as_str()
    );
    let (status, error) = call(
        &app,
        "join_kasm",
        &full,
        json!({"user_id": viewer_id, "share_id": "no-such-share"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["error_message"].is_string());
    let (status, error) = call(&app, "join_kasm", &full, json!({"user_id": viewer_id})).await;
    assert_eq!(
        (status, error["error_message"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!("Missing Parameters: share_id is missing")
        )
    );

    // stop_kasm stops the container; resume_kasm starts it again.
    let (status, _) = call(
        &app,
        "stop_kasm",
        &full,
        json!({"user_id": user_id, "kasm_id": kasm_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, stopped) = status_call().await;
    assert_eq!(stopped["kasm"]["operational_status"], "stopped");
    let (status, error) = call(
        &app,
        "pause_kasm",
        &full,
        json!({"user_id": user_id, "kasm_id": kasm_id}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a stopped session was paused: {error}"
    );
    let (status, _) = call(
        &app,
        "resume_kasm",
        &full,
        json!({"user_id": user_id, "kasm_id": kasm_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, resumed) = status_call().await;
    assert_eq!(resumed["kasm"]["operational_status"], "running");
    let (_, listed) = call(&app, "get_user_kasms", &full, json!({"user_id": user_id})).await;
    assert_eq!(listed["kasms"].as_array().unwrap().len(), 1);
    let (status, _) = call(
        &app,
        "destroy_kasm",
        &full,
        json!({"user_id": user_id, "kasm_id": kasm_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = call(&app, "get_kasms", &full, json!({})).await;
    assert_eq!(listed["kasms"], json!([]));
    let (status, _) = call(
        &app,
        "delete_user",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    agent.abort();
}

/// Another valid id of the same form (for tampered links).
fn id_of_other(id: &str) -> String {
    let last = if id.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &id[..id.len() - 1])
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn every_endpoint_checks_permissions_and_names_missing_parameters(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("root", "password-123", "admin").await;
    let document: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoints: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|path| path.trim_start_matches("/api/public/").to_owned())
        .collect();
    assert_eq!(endpoints.len(), 27, "{endpoints:?}");

    // A key with no permissions is refused everywhere, and nothing happens.
    let none = key(&app, &[], false).await;
    for endpoint in &endpoints {
        let (status, error) = call(&app, endpoint, &none, json!({})).await;
        assert_eq!(
            (status, error["error_message"].clone()),
            (StatusCode::FORBIDDEN, json!("Unauthorized")),
            "{endpoint}"
        );
    }
    // With every permission, an empty body names the first missing parameter (400), except
    // for the calls that take none.
    let mut all = ALL.to_vec();
    all.extend([
        "Groups View",
        "Groups Create",
        "Groups Modify",
        "Groups Delete",
    ]);
    let full = key(&app, &all, false).await;
    for endpoint in &endpoints {
        let (status, error) = call(&app, endpoint, &full, json!({})).await;
        if matches!(
            endpoint.as_str(),
            "get_kasms" | "get_images" | "get_users" | "get_groups"
        ) {
            assert_eq!(status, StatusCode::OK, "{endpoint}: {error}");
            continue;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}: {error}");
        let message = error["error_message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("Missing Parameters: "),
            "{endpoint}: {message}"
        );
    }
    // A key used once and then revoked is refused at once (verification is cached, the
    // key's state is not).
    let used = key(&app, &all, false).await;
    assert_eq!(
        call(&app, "get_users", &used, json!({})).await.0,
        StatusCode::OK
    );
    sqlx::query("UPDATE api_keys SET revoked = true WHERE api_key = $1")
        .bind(&used.0)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        call(&app, "get_users", &used, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn users_are_managed_through_the_api(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("root", "password-123", "admin").await;
    let mut all = ALL.to_vec();
    all.push("Groups Modify");
    let full = key(&app, &all, false).await;
    let (status, created) = call(
        &app,
        "create_user",
        &full,
        json!({"target_user": {"username": "lee", "password": "lee-password-1", "phone": "+1 555 0100",
                               "organization": "Acme", "locked": false, "disabled": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let user = &created["user"];
    assert_eq!(
        (&user["phone"], &user["organization"], &user["disabled"]),
        (&json!("+1 555 0100"), &json!("Acme"), &json!(true))
    );
    let user_id = user["user_id"].as_str().unwrap().to_owned();

    // update_user changes only what it names; a disabled account's sign-ins end.
    let (status, updated) = call(
        &app,
        "update_user",
        &full,
        json!({"target_user": {"user_id": user_id, "first_name": "Lee", "disabled": false}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["user"]["first_name"], "Lee");
    assert_eq!(updated["user"]["organization"], "Acme");
    assert_eq!(updated["user"]["disabled"], false);
    let signed_in = app.client();
    assert!(app
        .login(&signed_in, "lee", "lee-password-1")
        .await
        .status()
        .is_success());
    let (status, _) = call(
        &app,
        "logout_user",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sign_ins JOIN users u USING (user_id) WHERE u.username = 'lee'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(sessions, 0, "logout_user left a sign-in");

    // Attributes: defaults, then an update of some keys.
    let (status, attributes) = call(
        &app,
        "get_attributes",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{attributes}");
    for field in [
        "user_attributes_id",
        "user_id",
        "ssh_public_key",
        "show_tips",
        "theme",
        "preferred_language",
        "preferred_timezone",
        "toggle_control_panel",
        "default_image",
        "auto_login_kasm",
    ] {
        assert!(
            attributes["user_attributes"].get(field).is_some(),
            "attributes lack {field}"
        );
    }
    let (status, _) = call(
        &app,
        "update_user_attributes",
        &full,
        json!({"target_user_attributes": {"user_id": user_id, "theme": "dark", "show_tips": false}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, attributes) = call(
        &app,
        "get_attributes",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(attributes["user_attributes"]["theme"], "dark");
    assert_eq!(attributes["user_attributes"]["show_tips"], false);

    // Groups: added and removed; get_user lists them.
    let group_id = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO groups (group_id, name) VALUES ($1, 'Engineers')")
        .bind(group_id)
        .execute(&app.db)
        .await
        .unwrap();
    let membership = json!({"target_user": {"user_id": user_id}, "target_group": {"group_id": group_id.simple().to_string()}});
    let (status, _) = call(&app, "add_user_group", &full, membership.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, fetched) = call(
        &app,
        "get_user",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(
        fetched["user"]["groups"],
        json!([{"group_id": group_id.simple().to_string(), "name": "Engineers"}])
    );
    assert_eq!(fetched["user"]["kasms"], json!([]));
    let (status, _) = call(&app, "remove_user_group", &full, membership).await;
    assert_eq!(status, StatusCode::OK);
    let (_, fetched) = call(
        &app,
        "get_user",
        &full,
        json!({"target_user": {"user_id": user_id}}),
    )
    .await;
    assert_eq!(fetched["user"]["groups"], json!([]));
    let (status, error) = call(
        &app,
        "add_user_group",
        &full,
        json!({"target_user": {"user_id": user_id}, "target_group": {"group_id": uuid::Uuid::new_v4().simple().to_string()}}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
}
