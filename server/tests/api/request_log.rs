//! Every request is logged once, at INFO, by its matched route — never its raw URI, which may
//! carry a sign-in token or an API key — with its status, latency and who asked.
use crate::serve::Serve;
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn requests_are_logged_by_route_without_their_secrets(db: PgPool) {
    let serve = Serve::start(&db, false);
    serve.wait_ready().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    // A sign-in link's token in the path, an API key in the query string and in the body.
    let token = format!("link-token-{}", Uuid::new_v4().simple());
    let link = format!(
        "/connect/kasm/{}/{}/{token}",
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    let answer = client.get(serve.url(&link)).send().await.unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    let key = format!("query-key-{}", Uuid::new_v4().simple());
    let secret = format!("body-secret-{}", Uuid::new_v4().simple());
    let answer = client
        .post(serve.url(&format!("/api/public/get_images?api_key={key}")))
        .json(&serde_json::json!({"api_key": key, "api_key_secret": secret}))
        .send()
        .await
        .unwrap();
    let refused = answer.status().as_u16();
    assert!(matches!(refused, 401 | 403), "{refused}");

    // A signed-in user's request names them.
    let signed_in = client
        .post(serve.url("/rpc/login"))
        .form(&[("username", "admin"), ("password", "admin-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let page = client.get(serve.url("/admin/users")).send().await.unwrap();
    assert_eq!(page.status(), 200);

    let log = serve.log_text();
    for secret_part in [&token, &key, &secret] {
        assert!(
            !log.contains(secret_part.as_str()),
            "{secret_part} logged:\n{log}"
        );
    }
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("request")).collect();
    let logged = |route: &str, status: &str| {
        lines
            .iter()
            .any(|l| l.contains(route) && l.contains(&format!("status={status}")))
    };
    assert!(
        logged("route=/connect/kasm/{session_id}/{user_id}/{token}", "4"),
        "{log}"
    );
    assert!(
        logged("route=/api/public/{endpoint}", &refused.to_string()),
        "{log}"
    );
    assert!(
        lines.iter().any(|l| l.contains("route=/admin/users")
            && l.contains("user=admin")
            && l.contains("status=200")),
        "the admin page's request names its user:\n{log}"
    );
}
