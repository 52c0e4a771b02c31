//! The Developer API's kasm_url opens the session in a browser that never signed in: an
//! administrator makes a key under Admin → Developers, an integration (here, fetch calls from
//! the admin's tab) creates a user and requests a Desktop, and the kasm_url from
//! get_kasm_status, opened in a fresh Chromium, shows that user's desktop. The link works once.
use end2end::*;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use std::time::Duration;

/// POST /api/public/<endpoint> from the page; returns (status, JSON body).
async fn call(client: &Client, endpoint: &str, body: Value) -> (u64, Value) {
    let script = "const [endpoint, body, done] = arguments; \
        fetch('/api/public/' + endpoint, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)}) \
        .then(async r => done([r.status, await r.text()])).catch(e => done([-1, String(e)]));";
    let answer = client
        .execute_async(script, vec![json!(endpoint), body])
        .await
        .unwrap();
    let status = answer[0].as_u64().unwrap_or(0);
    let text = answer[1].as_str().unwrap_or_default();
    let body = serde_json::from_str(text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, body)
}

async fn new_api_key(admin: &Client) -> (String, String) {
    admin
        .goto(&format!("{}/admin/developers", base()))
        .await
        .unwrap();
    hydrated(admin).await;
    admin
        .find(Locator::Css("#api-key-form input[name=name]"))
        .await
        .unwrap()
        .send_keys(&format!("e2e {}", unique()))
        .await
        .unwrap();
    click(admin, "#api-key-form button[type=submit]").await;
    let key = text_of(admin, "#new-api-key").await;
    let secret = text_of(admin, "#new-api-secret").await;
    assert!(!key.is_empty() && !secret.is_empty());
    (key, secret)
}

#[tokio::test]
async fn the_kasm_url_opens_the_desktop_in_a_browser_with_no_sign_in() {
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    let (api_key, api_key_secret) = new_api_key(&admin).await;
    let with_key = |mut body: Value| {
        body["api_key"] = json!(api_key);
        body["api_key_secret"] = json!(api_key_secret);
        body
    };

    let username = format!("api{}", unique());
    let (status, created) = call(
        &admin,
        "create_user",
        with_key(json!({"target_user": {"username": username, "password": "api-user-password"}})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let user_id = created["user"]["user_id"].as_str().unwrap().to_owned();
    let (_, images) = call(&admin, "get_images", with_key(json!({}))).await;
    let image_id = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["friendly_name"] == "Desktop")
        .expect("the Desktop image")["image_id"]
        .clone();
    let (status, requested) = call(
        &admin,
        "request_kasm",
        with_key(json!({"user_id": user_id, "image_id": image_id})),
    )
    .await;
    assert_eq!(status, 200, "{requested}");
    let kasm_id = requested["kasm_id"].as_str().unwrap().to_owned();

    // Poll until running; each status call hands out a new link.
    let deadline = tokio::time::Instant::now() + WAIT;
    let status = loop {
        let (code, status) = call(
            &admin,
            "get_kasm_status",
            with_key(json!({"user_id": user_id, "kasm_id": kasm_id})),
        )
        .await;
        assert_eq!(code, 200, "{status}");
        if status["kasm"]["operational_status"] == "running" {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never running: {status}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let kasm_url = status["kasm_url"].as_str().unwrap().to_owned();
    assert!(
        kasm_url.ends_with(status["session_token"].as_str().unwrap()),
        "{status}"
    );

    // A browser that never signed in opens the link: the user's desktop, signed in as them.
    let visitor = browser().await;
    visitor
        .goto(&format!("{}{kasm_url}", base()))
        .await
        .unwrap();
    wait_until(
        &visitor,
        "the session page",
        &format!(
            "return location.pathname === '/session/{}';",
            uuid_dashed(&kasm_id)
        ),
    )
    .await;
    wait_until(&visitor, "the desktop to render", DESKTOP_DRAWN).await;
    assert!(
        !visitor
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("/connect/"),
        "the token stays in the address bar"
    );
    visitor.close().await.unwrap();

    // The link is used up: another browser gets a clear refusal, not the desktop.
    let late = browser().await;
    late.goto(&format!("{}{kasm_url}", base())).await.unwrap();
    assert!(text_of(&late, "#connect-refused")
        .await
        .contains("expired or was already used"));
    assert_eq!(
        fetch_status(
            &late,
            &format!("/desktop/{}/vnc.html", uuid_dashed(&kasm_id))
        )
        .await,
        401,
        "the refused browser reached the desktop"
    );
    late.close().await.unwrap();

    let (status, _) = call(
        &admin,
        "destroy_kasm",
        with_key(json!({"user_id": user_id, "kasm_id": kasm_id})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        container_of(&uuid_dashed(&kasm_id)).is_empty(),
        "the container survived"
    );
    let (status, _) = call(
        &admin,
        "delete_user",
        with_key(json!({"target_user": {"user_id": user_id}})),
    )
    .await;
    assert_eq!(status, 200);
    admin.close().await.unwrap();
}

/// 32 hex digits (the API's form) → the dashed form Berth's pages and labels use.
fn uuid_dashed(simple: &str) -> String {
    assert_eq!(simple.len(), 32, "{simple}");
    format!(
        "{}-{}-{}-{}-{}",
        &simple[0..8],
        &simple[8..12],
        &simple[12..16],
        &simple[16..20],
        &simple[20..]
    )
}
