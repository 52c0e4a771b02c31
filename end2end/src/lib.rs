//! Helpers for the browser tests in tests/: a fresh headless Chromium through chromedriver,
//! signing in, waiting on the page, and looking at session containers. The tests need
//! BERTH_URL, WEBDRIVER_URL and BERTH_ADMIN_PASSWORD, which ./scripts/test provides.
mod admin;
pub use admin::*;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const WAIT: Duration = Duration::from_secs(60);

pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end2end tests through ./scripts/test")
    })
}

pub fn base() -> String {
    var("BERTH_URL")
}

pub fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}{}", std::process::id(), nanos % 1_000_000_000)
}

/// A new headless Chromium with an empty profile.
pub async fn browser() -> Client {
    let profile = std::env::temp_dir().join(format!("berth-e2e-{}", unique()));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(capabilities)
        .connect(&var("WEBDRIVER_URL"))
        .await
        .expect("cannot reach chromedriver")
}

/// Waits until the WASM has hydrated the page (the app marks <body> then).
pub async fn hydrated(client: &Client) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("body[data-hydrated='true']"))
        .await
        .expect("the page never hydrated: is the WASM bundle served?");
}

/// Fills in and submits the sign-in form (does not wait for the outcome).
pub async fn submit_sign_in(client: &Client, username: &str, password: &str) {
    client.goto(&format!("{}/login", base())).await.unwrap();
    hydrated(client).await;
    client
        .find(Locator::Css("#username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    client
        .find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Signs in and waits for the hydrated dashboard.
pub async fn sign_in(client: &Client, username: &str, password: &str) {
    submit_sign_in(client, username, password).await;
    wait_until(
        client,
        "the dashboard",
        "return location.pathname === '/' && document.body.dataset.hydrated === 'true';",
    )
    .await;
}

/// Polls a script in the page until it returns true.
pub async fn wait_until(client: &Client, what: &str, script: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if client.execute(script, vec![]).await.ok() == Some(json!(true)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The HTTP status the browser gets for a path, with its cookies (0: an opaque redirect).
pub async fn fetch_status(client: &Client, path: &str) -> u64 {
    let script = "const [path, done] = arguments; fetch(path, {redirect: 'manual'}).then(r => done(r.status)).catch(() => done(-1));";
    client
        .execute_async(script, vec![json!(path)])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

/// Creates a user through the admin's browser session (the admin server function).
pub async fn create_user_as_admin(admin: &Client, username: &str, password: &str) {
    let created = admin
        .execute_async(
            "const [name, password, done] = arguments; fetch('/rpc/admin/create_user', {method: 'POST', body: new URLSearchParams({username: name, password, first_name: '', last_name: '', organization: '', role: 'user'})}).then(r => done(r.status));",
            vec![json!(username), json!(password)],
        )
        .await
        .unwrap();
    assert_eq!(created, json!(200), "could not create {username}");
}

/// True once the desktop frame is connected and its canvas shows more than a flat colour.
pub const DESKTOP_DRAWN: &str = r#"
    const frame = document.getElementById('desktop-frame');
    if (!frame || !frame.contentWindow || frame.contentWindow.berthConnected !== true) return false;
    const canvas = frame.contentDocument.querySelector('canvas');
    if (!canvas || canvas.width < 200 || canvas.height < 200) return false;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length; i += 4 * 211) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    return colours.size > 3;
"#;

/// Launches a workspace from its dashboard tile and waits for its desktop; returns the session_id.
pub async fn launch(client: &Client, workspace: &str) -> String {
    let selector = format!("li.tile[data-name='{workspace}'] button.launch");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&selector))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        client,
        "the session page",
        "return location.pathname.startsWith('/session/');",
    )
    .await;
    let path = client
        .execute("return location.pathname;", vec![])
        .await
        .unwrap();
    let session_id = path
        .as_str()
        .unwrap()
        .trim_start_matches("/session/")
        .to_owned();
    wait_until(client, "the desktop to render", DESKTOP_DRAWN).await;
    session_id
}

/// Shares the open session from its control panel; answers the link (`/join/...`).
pub async fn share_link(owner: &Client) -> String {
    click(owner, "#panel-toggle").await;
    click(owner, "#share-on").await;
    let link = owner
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#share-link"))
        .await
        .unwrap();
    let link = link.prop("value").await.unwrap().expect("a share link");
    assert!(link.starts_with("/join/"), "{link}");
    link
}

/// The session's container id ("" when there is none).
pub fn container_of(session_id: &str) -> String {
    let output = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=berth.kasm_id={session_id}"),
        ])
        .output()
        .expect("docker");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

pub fn file_exists(container: &str, path: &str) -> bool {
    Command::new("docker")
        .args(["exec", container, "test", "-f", path])
        .status()
        .unwrap()
        .success()
}

/// Presses each key in turn.
pub async fn keys(client: &Client, text: &[char]) {
    let mut actions = KeyActions::new("keyboard".into());
    for &key in text {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    client.perform_actions(actions).await.unwrap();
}

/// Presses `key` while holding `held`.
pub async fn chord(client: &Client, held: &[char], key: char) {
    let mut actions = KeyActions::new("keyboard".into());
    for &modifier in held {
        actions = actions.then(KeyAction::Down { value: modifier });
    }
    actions = actions
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    for &modifier in held.iter().rev() {
        actions = actions.then(KeyAction::Up { value: modifier });
    }
    client.perform_actions(actions).await.unwrap();
}

/// In the desktop frame: opens a terminal (Ctrl+Alt+T) and types a command into it.
pub async fn type_in_terminal(client: &Client, command: &str) {
    use fantoccini::key::Key;
    client.enter_frame(Some(0)).await.unwrap();
    client
        .find(Locator::Css("canvas"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    chord(client, &[Key::Control.into(), Key::Alt.into()], 't').await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let typed: Vec<char> = command.chars().chain([Key::Enter.into()]).collect();
    keys(client, &typed).await;
    client.enter_parent_frame().await.unwrap();
}

/// Types `touch <path>` into a new terminal of the session until the file exists in
/// `container` (under load a terminal can open after the keys were typed): three tries, each
/// waiting up to 20 s. Whether it ever appeared.
pub async fn touch_through_terminal(client: &Client, container: &str, path: &str) -> bool {
    for _ in 0..3 {
        type_in_terminal(client, &format!("touch {path}")).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            if file_exists(container, path) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    false
}

/// Clicks an element once it can be clicked (panels slide in; forms appear after a fetch).
pub async fn click(client: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let element = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap();
        match element.click().await {
            Ok(()) => return,
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "could not click {css}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// A Chrome DevTools Protocol command sent through chromedriver.
#[derive(Debug)]
pub struct Cdp {
    pub cmd: &'static str,
    pub params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params }).to_string();
        (http::Method::POST, Some(body))
    }
}
