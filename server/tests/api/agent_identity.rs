//! Agents with their own identity: a credential per agent, issued in Admin → Servers and
//! bound to one server record; check-ins under another agent's name, or with unknown,
//! revoked or replaced credentials, are refused; the manager calls each agent with that
//! agent's own secret; agents create sessions only on allowed networks.
use crate::docker_sessions::{
    agent_config, image_id, state_of, unique, wait_for, wait_online_with_images,
};
use crate::support::{audit_entries, error_json, spawn_app, TestApp};
use berth::manager::agent_client::{AgentClient, AgentFailure, AgentRef, HttpAgentClient};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// What an agent's check-in says (as `berth agent` sends it), under `name`, reachable at
/// `agent_url`.
pub(crate) fn check_in(name: &str, agent_url: &str, api_secret: &str) -> Value {
    json!({
        "name": name, "hostname": name, "agent_url": agent_url, "address": "127.0.0.1",
        "cores": 4.0, "memory": 8_i64 << 30, "gpus": 0, "disk_free": 1_i64 << 30, "sessions": [],
        "images_present": [], "images_missing": [], "version": "test", "interval_secs": 1,
        "instance_id": Uuid::new_v4(), "api_secret": api_secret
    })
}

/// POSTs a check-in with `credential` (none: no Authorization header).
pub(crate) async fn post_check_in(
    app: &TestApp,
    credential: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let request = reqwest::Client::new()
        .post(app.url("/api/agent/checkin"))
        .json(body);
    match credential {
        Some(credential) => request.bearer_auth(credential),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// A new agent added through Admin → Servers: (server_id, credential).
pub(crate) async fn add_server(
    app: &TestApp,
    admin: &reqwest::Client,
    name: &str,
) -> (String, String) {
    let response = app.call(admin, "admin/add_server", &[("name", name)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["name"], name);
    (
        issued["server_id"].as_str().unwrap().to_owned(),
        issued["credential"].as_str().unwrap().to_owned(),
    )
}

/// What a check-in may change on a server's row.
async fn reported(db: &PgPool, name: &str) -> (String, String, String, Option<Uuid>) {
    sqlx::query_as(
        "SELECT status, agent_url, api_secret, agent_instance FROM servers WHERE hostname = $1",
    )
    .bind(name)
    .fetch_one(db)
    .await
    .unwrap()
}

const SECRET_A: &str = "secret-of-host-a-0123456789abcdef0123";
const SECRET_B: &str = "secret-of-host-b-0123456789abcdef0123";

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_second_agent_cannot_check_in_under_the_first_ones_name(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, admin_id) = app.signed_in("root", "admin").await;
    let (a_id, a_credential) = add_server(&app, &admin, "host-a").await;
    let (_, b_credential) = add_server(&app, &admin, "host-b").await;
    // Only a hash is kept: the secret appears nowhere in the row.
    let secret = a_credential.split_once('.').unwrap().1;
    let row: String =
        sqlx::query_scalar("SELECT row_to_json(s)::text FROM servers s WHERE hostname = 'host-a'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!row.contains(secret), "{row}");

    let a_report = check_in("host-a", "http://host-a:7001", SECRET_A);
    let accepted = post_check_in(&app, Some(&a_credential), &a_report).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let reply: Value = accepted.json().await.unwrap();
    assert_eq!(reply["server_id"], a_id);
    let before = reported(&app.db, "host-a").await;
    assert_eq!(
        (before.0.as_str(), before.1.as_str(), before.2.as_str()),
        ("online", "http://host-a:7001", SECRET_A)
    );

    // host-b's credential claiming host-a's name, to draw its sessions, secrets and commands.
    let hijack = check_in("host-a", "http://attacker:7001", SECRET_B);
    let refused = post_check_in(&app, Some(&b_credential), &hijack).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let message = refused.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("host-b") && message.contains("cannot check in as 'host-a'"),
        "{message}"
    );
    assert_eq!(reported(&app.db, "host-a").await, before);
    let b = reported(&app.db, "host-b").await;
    assert_eq!(
        (b.0.as_str(), b.1.as_str(), b.2.as_str()),
        ("offline", "", "")
    );

    // A name is registered once.
    let again = app
        .call(&admin, "admin/add_server", &[("name", "host-a")])
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_json(again)
        .await
        .to_string()
        .contains("\"field\":\"name\""));
    let bad_name = app
        .call(&admin, "admin/add_server", &[("name", "host a; rm")])
        .await;
    assert_eq!(bad_name.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        audit_entries(&app.db, "add_server").await[0],
        (Some(admin_id), format!("{a_id} host-a"))
    );

    // A check-in without the agent's API secret (an agent older than this server) is refused.
    let without_secret = check_in("host-a", "http://host-a:7001", "");
    let response = post_check_in(&app, Some(&a_credential), &without_secret).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let malformed = reqwest::Client::new()
        .post(app.url("/api/agent/checkin"))
        .bearer_auth(&a_credential)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reported(&app.db, "host-a").await, before);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn unknown_revoked_and_replaced_credentials_are_refused(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (id, first) = add_server(&app, &admin, "host-a").await;
    let report = check_in("host-a", "http://host-a:7001", SECRET_A);
    assert_eq!(
        post_check_in(&app, Some(&first), &report).await.status(),
        StatusCode::OK
    );

    let revoked = app
        .call(
            &admin,
            "admin/revoke_server_credential",
            &[("server_id", &id)],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let after_revoke = reported(&app.db, "host-a").await;
    assert_eq!(
        after_revoke.0, "offline",
        "a revoked agent gets no new sessions"
    );
    let refused = post_check_in(&app, Some(&first), &report).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let message = refused.json::<Value>().await.unwrap()["error"].to_string();
    assert!(message.contains("Admin → Servers"), "{message}");
    assert_eq!(reported(&app.db, "host-a").await, after_revoke);

    // A new credential works; the ones before it do not.
    let issue = || async {
        let response = app
            .call(
                &admin,
                "admin/issue_server_credential",
                &[("server_id", &id)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let issued: Value = response.json().await.unwrap();
        assert_eq!(issued["name"], "host-a");
        issued["credential"].as_str().unwrap().to_owned()
    };
    let second = issue().await;
    assert_eq!(
        post_check_in(&app, Some(&second), &report).await.status(),
        StatusCode::OK
    );
    let third = issue().await;
    for stale in [&first, &second] {
        assert_eq!(
            post_check_in(&app, Some(stale), &report).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        post_check_in(&app, Some(&third), &report).await.status(),
        StatusCode::OK
    );

    // Unknown credentials: another server's id, a wrong secret, the old shared token, none.
    let wrong_secret = format!("{}.{}", id.replace('-', ""), "guessed");
    let unknown_server = format!(
        "{}.{}",
        Uuid::new_v4().simple(),
        third.split_once('.').unwrap().1
    );
    for credential in [
        Some(wrong_secret.as_str()),
        Some(unknown_server.as_str()),
        Some("test-agent-token"),
        Some(""),
        None,
    ] {
        let response = post_check_in(&app, credential, &report).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{credential:?}"
        );
    }
    let servers: i64 = sqlx::query_scalar("SELECT count(*) FROM servers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(servers, 1, "a refused check-in records nothing");
    assert_eq!(
        audit_entries(&app.db, "issue_server_credential")
            .await
            .len(),
        2
    );
    assert_eq!(
        audit_entries(&app.db, "revoke_server_credential")
            .await
            .len(),
        1
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn only_administrators_issue_or_revoke_agent_credentials(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (id, credential) = add_server(&app, &admin, "host-a").await;
    let (user, _) = app.signed_in("ann", "user").await;
    app.assert_admin_only(
        &user,
        &[
            ("admin/add_server", vec![("name", "sneaky")]),
            (
                "admin/issue_server_credential",
                vec![("server_id", id.as_str())],
            ),
            (
                "admin/revoke_server_credential",
                vec![("server_id", id.as_str())],
            ),
        ],
    )
    .await;
    let report = check_in("host-a", "http://host-a:7001", SECRET_A);
    assert_eq!(
        post_check_in(&app, Some(&credential), &report)
            .await
            .status(),
        StatusCode::OK,
        "the credential still works"
    );
    let names: Vec<String> = sqlx::query_scalar("SELECT hostname FROM servers")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(names, ["host-a"]);
    // The page never shows a credential (only the answer to issuing one carries it).
    let page = admin.get(app.url("/admin/servers")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="add-server-form""#), "{html}");
    assert!(!html.contains(credential.split_once('.').unwrap().1));
}

/// A real agent in this process, online: (its name, its URL, its API secret).
async fn real_agent(app: &TestApp, prefix: &str) -> (String, String, String) {
    let name = unique(prefix);
    let config = agent_config(app, &name).await;
    tokio::spawn(async move { berth::agent::run(config).await.unwrap() });
    let (url, secret) = wait_for("the agent to check in", 60, || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT agent_url, api_secret FROM servers WHERE hostname = $1 AND status = 'online'",
        )
        .bind(&name)
        .fetch_optional(&app.db)
        .await
        .unwrap()
    })
    .await;
    (name, url, secret)
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_manager_calls_an_agent_only_with_that_agents_own_secret(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (_, b_url, b_secret) = real_agent(&app, "agent-b").await;
    // Agent A, with its own credential, says it is reached at B's address: the manager then
    // calls B with A's secret, and B refuses.
    let (a_id, a_credential) = add_server(&app, &admin, "host-a").await;
    let report = check_in("host-a", &b_url, SECRET_A);
    assert_eq!(
        post_check_in(&app, Some(&a_credential), &report)
            .await
            .status(),
        StatusCode::OK
    );
    let (url, secret): (String, String) =
        sqlx::query_as("SELECT agent_url, api_secret FROM servers WHERE server_id = $1::uuid")
            .bind(&a_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let client = HttpAgentClient::new();
    let session_id = Uuid::new_v4();
    let as_a = AgentRef {
        url,
        hostname: "host-a".into(),
        secret,
    };
    match client.endpoint(&as_a, session_id).await {
        Err(AgentFailure::Refused { message, .. }) => {
            assert!(message.contains("not this agent's API secret"), "{message}")
        }
        other => panic!("B answered A's secret: {other:?}"),
    }
    assert!(matches!(
        client.tunnel(&as_a, session_id, "any").await,
        Err(AgentFailure::Refused { .. })
    ));
    // Neither the old shared token nor an agent's check-in credential opens B's API.
    for other in ["test-agent-token", a_credential.as_str()] {
        let with_other = AgentRef {
            secret: other.into(),
            ..as_a.clone()
        };
        assert!(matches!(
            client.endpoint(&with_other, session_id).await,
            Err(AgentFailure::Refused { .. })
        ));
    }
    // B's own secret does: B looks and has no container for that session.
    let as_b = AgentRef {
        url: b_url,
        hostname: "agent-b".into(),
        secret: b_secret,
    };
    assert!(matches!(
        client.endpoint(&as_b, session_id).await,
        Err(AgentFailure::NoContainer { .. })
    ));
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn an_agent_refuses_the_host_network_and_other_containers_networks(db: PgPool) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let (name, url, secret) = real_agent(&app, "networks").await;
    let session_id = Uuid::new_v4();
    let create = |network_mode: &str| {
        json!({
            "session_id": session_id, "user_id": Uuid::new_v4(), "image_id": Uuid::new_v4(),
            "image": "berth/desktop:latest", "cores": 1.0, "memory": 1_i64 << 30,
            "network_mode": network_mode, "secret": "session-secret", "run_config": {}
        })
    };
    let http = reqwest::Client::new();
    for network_mode in ["container:berth-session-other", "host", "container:abc123"] {
        let response = http
            .post(format!("{url}/v1/sessions"))
            .bearer_auth(&secret)
            .json(&create(network_mode))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{network_mode}");
        let refusal: Value = response.json().await.unwrap();
        assert_eq!(refusal["field"], "network_mode", "{refusal}");
        assert!(
            refusal["error"].as_str().unwrap().contains(network_mode),
            "{refusal}"
        );
    }
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let filters = std::collections::HashMap::from([(
        "label".to_owned(),
        vec![format!("berth.kasm_id={session_id}")],
    )]);
    let containers = docker
        .list_containers(Some(bollard::container::ListContainersOptions {
            all: true,
            filters,
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(containers.is_empty(), "a refused session got a container");

    // Through the manager: an image whose network mode was set to `host` behind the admin
    // form's back launches nowhere, and the session says why.
    wait_online_with_images(&app, &name).await;
    let desktop = image_id(&app.db, "Desktop").await;
    sqlx::query("UPDATE images SET network_mode = 'host' WHERE image_id = $1")
        .bind(desktop)
        .execute(&app.db)
        .await
        .unwrap();
    let user = app.create_user("ann", "password-123", "user").await;
    let session_id = app.manager.request_session(user, desktop).await.unwrap();
    let (status, message) = wait_for("the launch to fail", 60, || async {
        let (status, message) = state_of(&app.db, session_id).await;
        matches!(status.as_str(), "deleting" | "deleted").then_some((status, message))
    })
    .await;
    assert!(message.contains("network_mode"), "{status}: {message}");
}
