//! exec_command_kasm and get_kasm_screenshot against a real Desktop session container,
//! launched and destroyed through the Developer API.
use crate::support::{
    api_call as call, api_key as key, api_post as post, spawn_app, ApiKey, TestApp,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::{Duration, Instant};

const PERMISSIONS: &[&str] = &[
    "User",
    "Users Auth Session",
    "Sessions View",
    "Sessions Modify",
];

struct Launched {
    app: TestApp,
    agent: tokio::task::JoinHandle<()>,
    key: ApiKey,
    user_id: String,
    kasm_id: String,
}

/// An app with an agent, a user "kim", and kim's Desktop session launched through the API and
/// running.
async fn launch(db: PgPool) -> Launched {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    app.create_user("root", "password-123", "admin").await;
    let agent = crate::docker_sessions::start_test_agent(&app).await;
    let key = key(&app, PERMISSIONS, false).await;
    let user_id = app
        .create_user("kim", "kim-password-1", "user")
        .await
        .simple()
        .to_string();
    let desktop: uuid::Uuid =
        sqlx::query_scalar("SELECT image_id FROM images WHERE friendly_name = 'Desktop'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let (status, requested) = call(
        &app,
        "request_kasm",
        &key,
        json!({"user_id": user_id, "image_id": desktop.simple().to_string()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{requested}");
    let kasm_id = requested["kasm_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, reply) = call(
            &app,
            "get_kasm_status",
            &key,
            json!({"user_id": user_id, "kasm_id": kasm_id}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        if reply["kasm"]["operational_status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "never running: {reply}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Launched {
        app,
        agent,
        key,
        user_id,
        kasm_id,
    }
}

impl Launched {
    async fn exec(&self, exec_config: Value) -> (StatusCode, Value) {
        call(
            &self.app,
            "exec_command_kasm",
            &self.key,
            json!({"user_id": self.user_id, "kasm_id": self.kasm_id, "exec_config": exec_config}),
        )
        .await
    }

    /// Runs `cmd` and returns its stdout, asserting it exited 0.
    async fn run(&self, cmd: &str) -> String {
        let (status, reply) = self.exec(json!({ "cmd": cmd })).await;
        assert_eq!(status, StatusCode::OK, "{cmd}: {reply}");
        assert_eq!(reply["exit_code"], 0, "{cmd}: {reply}");
        reply["stdout"].as_str().unwrap().to_owned()
    }

    async fn finish(self) {
        let (status, reply) = call(
            &self.app,
            "destroy_kasm",
            &self.key,
            json!({"user_id": self.user_id, "kasm_id": self.kasm_id}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        self.agent.abort();
    }
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn commands_run_in_the_users_running_session(db: PgPool) {
    let session = launch(db).await;
    let app = &session.app;

    let (status, reply) = session.exec(json!({"cmd": "echo hi"})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["stdout"], "hi\n");
    assert_eq!(reply["stderr"], "");
    assert_eq!(reply["exit_code"], 0);
    assert_eq!(
        (
            &reply["stdout_truncated"],
            &reply["stderr_truncated"],
            &reply["timed_out"]
        ),
        (&json!(false), &json!(false), &json!(false))
    );
    assert_eq!(reply["kasm"]["kasm_id"], session.kasm_id);
    assert_eq!(reply["kasm"]["operational_status"], "running");
    assert!(reply["current_time"].is_string());

    let (_, reply) = session.exec(json!({"cmd": "echo err >&2; exit 3"})).await;
    assert_eq!(
        (&reply["exit_code"], &reply["stdout"], &reply["stderr"]),
        (&json!(3), &json!(""), &json!("err\n")),
        "{reply}"
    );

    // More than 1 MiB on stdout: the first MiB, and a flag saying so.
    let (_, reply) = session
        .exec(json!({"cmd": "head -c 1100000 /dev/zero | tr '\\0' a; echo done >&2"}))
        .await;
    let stdout = reply["stdout"].as_str().unwrap();
    assert_eq!(stdout.len(), 1 << 20);
    assert!(stdout.bytes().all(|b| b == b'a'));
    assert_eq!(reply["stdout_truncated"], true);
    assert_eq!(reply["stderr_truncated"], false);
    assert_eq!(
        (&reply["stderr"], &reply["exit_code"]),
        (&json!("done\n"), &json!(0))
    );

    // workdir, environment and user take effect; the session secret is not passed on; the
    // default user is the image's and DISPLAY is the session's.
    let (_, reply) = session
        .exec(json!({
            "cmd": "pwd; echo \"$GREETING\"; id -u; echo \"${BERTH_SESSION_SECRET:-no secret}\"; echo \"$DISPLAY\"",
            "workdir": "/tmp",
            "environment": {"GREETING": "hello there"},
        }))
        .await;
    assert_eq!(
        reply["stdout"], "/tmp\nhello there\n1000\nno secret\n:1\n",
        "{reply}"
    );
    assert_eq!(session.run("pwd").await, "/home/berth\n");
    let (status, reply) = session
        .exec(json!({"cmd": "true", "workdir": "/nonexistent"}))
        .await;
    // A working directory that does not exist: the command does not start (Docker's 126).
    assert_eq!(
        (status, &reply["exit_code"]),
        (StatusCode::OK, &json!(126)),
        "{reply}"
    );
    let said = format!("{}{}", reply["stdout"], reply["stderr"]);
    assert!(said.contains("/nonexistent"), "{reply}");
    // Root only with Berth's own permission for it.
    let (status, reply) = session.exec(json!({"cmd": "id -u", "user": "root"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert!(reply["error_message"]
        .as_str()
        .unwrap()
        .contains("Sessions Exec Root"));
    let (status, _) = session.exec(json!({"cmd": "id -u", "user": "0:0"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut permissions = PERMISSIONS.to_vec();
    permissions.push("Sessions Exec Root");
    let root_key = key(&session.app, &permissions, false).await;
    let (_, reply) = call(
        &session.app,
        "exec_command_kasm",
        &root_key,
        json!({"user_id": session.user_id, "kasm_id": session.kasm_id,
               "exec_config": {"cmd": "id -u", "user": "root"}}),
    )
    .await;
    assert_eq!(reply["stdout"], "0\n", "{reply}");
    // Variables that change how programs start are refused.
    for name in ["LD_PRELOAD", "BASH_ENV", "PATH"] {
        let (status, reply) = session
            .exec(json!({"cmd": "true", "environment": {name: "/tmp/x"}}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {reply}");
    }

    // A command that started something in the background is answered when it exits.
    let started = Instant::now();
    assert_eq!(session.run("sleep 30 & echo started").await, "started\n");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Timeout: answered after it with exit_code null, and the command is killed soon after.
    let started = Instant::now();
    let (status, reply) = session
        .exec(json!({"cmd": "echo before; sleep 7; echo after", "timeout": 1}))
        .await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        (&reply["timed_out"], &reply["exit_code"], &reply["stdout"]),
        (&json!(true), &Value::Null, &json!("before\n")),
        "{reply}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = session
        .exec(json!({"cmd": "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f; echo; done 2>/dev/null | grep -c 'slee[p] 7'"}))
        .await
        .1;
    assert_eq!(
        still["stdout"], "0\n",
        "the timed-out command still runs: {still}"
    );

    // Refusals: each answers an error and runs nothing.
    let (status, reply) = session
        .exec(json!({"cmd": "touch /tmp/ran-privileged", "privileged": true}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let message = reply["error_message"].as_str().unwrap();
    assert!(
        message.contains("privileged") && message.contains("no extra privileges"),
        "{message}"
    );

    let (status, reply) = session.exec(json!({"workdir": "/tmp"})).await;
    assert_eq!(
        (status, &reply["error_message"]),
        (
            StatusCode::BAD_REQUEST,
            &json!("Missing Parameters: exec_config.cmd is missing")
        )
    );
    let (status, reply) = call(
        app,
        "exec_command_kasm",
        &session.key,
        json!({"user_id": session.user_id, "kasm_id": session.kasm_id}),
    )
    .await;
    assert_eq!(
        (status, &reply["error_message"]),
        (
            StatusCode::BAD_REQUEST,
            &json!("Missing Parameters: exec_config is missing")
        )
    );

    let body = json!({"user_id": session.user_id, "kasm_id": session.kasm_id,
                      "exec_config": {"cmd": "touch /tmp/ran-unauthorized"}});
    for refused in [
        key(app, &["Sessions View", "User", "Users Auth Session"], false).await,
        key(app, PERMISSIONS, true).await, // read-only
    ] {
        let (status, reply) = call(app, "exec_command_kasm", &refused, body.clone()).await;
        assert_eq!(
            (status, &reply["error_message"]),
            (StatusCode::FORBIDDEN, &json!("Unauthorized"))
        );
    }

    let lee = app
        .create_user("lee", "lee-password-1", "user")
        .await
        .simple()
        .to_string();
    let (status, reply) = call(
        app,
        "exec_command_kasm",
        &session.key,
        json!({"user_id": lee, "kasm_id": session.kasm_id, "exec_config": {"cmd": "touch /tmp/ran-for-lee"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply["error_message"],
        "The kasm does not belong to that user"
    );
    let (status, _) = call(
        app,
        "exec_command_kasm",
        &session.key,
        json!({"user_id": session.user_id, "kasm_id": uuid::Uuid::new_v4().simple().to_string(),
               "exec_config": {"cmd": "true"}}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        session.run("ls /tmp | grep -c '^ran-' || true").await,
        "0\n",
        "a refused command ran"
    );

    // Only a running session runs commands.
    let ids = json!({"user_id": session.user_id, "kasm_id": session.kasm_id});
    assert_eq!(
        call(app, "pause_kasm", &session.key, ids.clone()).await.0,
        StatusCode::OK
    );
    let (status, reply) = session.exec(json!({"cmd": "true"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert!(
        reply["error_message"].as_str().unwrap().contains("paused"),
        "{reply}"
    );
    assert_eq!(
        call(app, "resume_kasm", &session.key, ids).await.0,
        StatusCode::OK
    );
    assert_eq!(session.run("echo back").await, "back\n");

    session.finish().await;
}

/// A screenshot: status, content type, and the body.
async fn screenshot(
    session: &Launched,
    key: &ApiKey,
    size: Value,
) -> (StatusCode, String, Vec<u8>) {
    let mut body = json!({"user_id": session.user_id, "kasm_id": session.kasm_id});
    for (name, value) in size.as_object().unwrap() {
        body[name] = value.clone();
    }
    let response = post(&session.app, "get_kasm_screenshot", key, body).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// The desktop's size, as a VNC client of the session's container sees it.
pub async fn framebuffer_size(db: &PgPool, kasm_id: &str) -> (u32, u32) {
    let kasm_id: uuid::Uuid = kasm_id.parse().unwrap();
    let (host, port, secret): (String, i32, String) =
        sqlx::query_as("SELECT hostname, port, session_secret FROM sessions WHERE session_id = $1")
            .bind(kasm_id)
            .fetch_one(db)
            .await
            .unwrap();
    let frame = berth::rfb::first_framebuffer_at(
        &host,
        port as u16,
        Some(&secret),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    (u32::from(frame.width), u32::from(frame.height))
}

fn decode(jpeg: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("the screenshot is a JPEG")
        .to_rgb8()
}

/// The average colour of the picture's middle ninth (away from the panel).
fn middle_colour(picture: &image::RgbImage) -> [u32; 3] {
    let (w, h) = picture.dimensions();
    let mut sum = [0u32; 3];
    let mut count = 0;
    for y in h / 3..2 * h / 3 {
        for x in w / 3..2 * w / 3 {
            for (total, value) in sum.iter_mut().zip(picture.get_pixel(x, y).0) {
                *total += u32::from(value);
            }
            count += 1;
        }
    }
    sum.map(|s| s / count)
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn screenshots_are_fresh_jpegs_that_keep_the_desktops_aspect(db: PgPool) {
    let session = launch(db).await;
    let app = &session.app;
    let (fw, fh) = framebuffer_size(&app.db, &session.kasm_id).await;
    assert!(fw > fh, "a landscape desktop: {fw}x{fh}");

    let started = Instant::now();
    let (status, content_type, bytes) =
        screenshot(&session, &session.key, json!({"width": 400, "height": 400})).await;
    let latency = started.elapsed();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(content_type, "image/jpeg");
    let picture = decode(&bytes);
    let expected_height = (400 * fh + fw / 2) / fw;
    assert_eq!(
        picture.dimensions(),
        (400, expected_height),
        "from {fw}x{fh}"
    );
    eprintln!(
        "screenshot of {fw}x{fh} as 400x{expected_height}: {} bytes in {latency:?}",
        bytes.len()
    );
    let before = middle_colour(&picture);
    assert!(
        before[0] < 120,
        "the desktop background is dark: {before:?}"
    );

    // Neither width nor height: 300 wide. Height only: it bounds.
    let started = Instant::now();
    let (_, _, bytes) = screenshot(&session, &session.key, json!({})).await;
    eprintln!(
        "screenshot at the default size: {} bytes in {:?}",
        bytes.len(),
        started.elapsed()
    );
    assert_eq!(decode(&bytes).dimensions(), (300, (300 * fh + fw / 2) / fw));
    let (_, _, bytes) = screenshot(&session, &session.key, json!({"height": 90})).await;
    assert_eq!(decode(&bytes).dimensions(), ((90 * fw + fh / 2) / fh, 90));

    // Change the screen: the next screenshot shows it.
    assert_eq!(
        session
            .run("hsetroot -solid '#ff0000' >/dev/null 2>&1 && echo set")
            .await,
        "set\n"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let (status, _, bytes) = screenshot(&session, &session.key, json!({"width": 400})).await;
        assert_eq!(status, StatusCode::OK);
        let colour = middle_colour(&decode(&bytes));
        if colour[0] > 200 || Instant::now() > deadline {
            break colour;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        after[0] > 200 && after[1] < 60 && after[2] < 60,
        "the desktop did not turn red: {before:?} -> {after:?}"
    );

    // Refusals answer JSON errors.
    let (status, content_type, bytes) =
        screenshot(&session, &session.key, json!({"width": 0})).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::BAD_REQUEST, "application/json")
    );
    assert!(String::from_utf8_lossy(&bytes).contains("width"));
    let viewer_only = key(app, &["Sessions Modify"], false).await;
    let (status, reply) = call(
        app,
        "get_kasm_screenshot",
        &viewer_only,
        json!({"user_id": session.user_id, "kasm_id": session.kasm_id}),
    )
    .await;
    assert_eq!(
        (status, &reply["error_message"]),
        (StatusCode::FORBIDDEN, &json!("Unauthorized"))
    );
    let lee = app
        .create_user("lee", "lee-password-1", "user")
        .await
        .simple()
        .to_string();
    let (status, reply) = call(
        app,
        "get_kasm_screenshot",
        &session.key,
        json!({"user_id": lee, "kasm_id": session.kasm_id}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply["error_message"],
        "The kasm does not belong to that user"
    );

    session.finish().await;
}
