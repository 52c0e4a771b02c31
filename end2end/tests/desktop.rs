//! A workspace launched from the dashboard and used in the browser: the desktop renders, a
//! command typed into its terminal takes effect, deleting the session removes its container,
//! and nobody else can reach it. Needs Docker and the session images (./scripts/test).
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(60);

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end2end tests through ./scripts/test")
    })
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}{}", std::process::id(), nanos % 1_000_000_000)
}

async fn browser() -> Client {
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
        .unwrap()
        .capabilities(capabilities)
        .connect(&var("WEBDRIVER_URL"))
        .await
        .expect("chromedriver")
}

async fn sign_in(client: &Client, username: &str, password: &str) {
    client
        .goto(&format!("{}/login", var("BERTH_URL")))
        .await
        .unwrap();
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("body[data-hydrated='true']"))
        .await
        .unwrap();
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
    wait_until(
        client,
        "the dashboard",
        "return location.pathname === '/' && document.body.dataset.hydrated === 'true';",
    )
    .await;
}

/// Polls a script in the page until it returns true.
async fn wait_until(client: &Client, what: &str, script: &str) {
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

async fn fetch_status(client: &Client, path: &str) -> u64 {
    let script = "const [path, done] = arguments; fetch(path, {redirect: 'manual'}).then(r => done(r.status)).catch(() => done(-1));";
    client
        .execute_async(script, vec![json!(path)])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

fn container_of(kasm_id: &str) -> String {
    let output = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=berth.kasm_id={kasm_id}"),
        ])
        .output()
        .expect("docker");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

async fn keys(client: &Client, text: &[char]) {
    let mut actions = KeyActions::new("keyboard".into());
    for &key in text {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    client.perform_actions(actions).await.unwrap();
}

async fn chord(client: &Client, held: &[char], key: char) {
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

const DESKTOP_DRAWN: &str = r#"
    const frame = document.getElementById('desktop-frame');
    if (!frame || !frame.contentWindow || frame.contentWindow.berthConnected !== true) return false;
    const canvas = frame.contentDocument.querySelector('canvas');
    if (!canvas || canvas.width < 200 || canvas.height < 200) return false;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length; i += 4 * 211) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    return colours.size > 3;
"#;

#[tokio::test]
async fn a_user_launches_a_desktop_types_in_it_and_deletes_it() {
    let admin_password = var("BERTH_ADMIN_PASSWORD");
    let owner = browser().await;
    sign_in(&owner, "admin", &admin_password).await;

    // Another account, to check that it is kept out.
    let other_name = format!("other{}", unique());
    let created = owner
        .execute_async(
            "const [name, done] = arguments; fetch('/rpc/admin/create_user', {method: 'POST', body: new URLSearchParams({username: name, password: 'other-password', first_name: '', last_name: '', organization: '', role: 'user'})}).then(r => done(r.status));",
            vec![json!(other_name)],
        )
        .await
        .unwrap();
    assert_eq!(created, json!(200));

    // Launch Desktop from its tile; the session page shows progress, then the desktop.
    let tile = owner
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("li.tile[data-name='Desktop'] button.launch"))
        .await
        .unwrap();
    tile.click().await.unwrap();
    wait_until(
        &owner,
        "the session page",
        "return location.pathname.startsWith('/session/');",
    )
    .await;
    let path = owner
        .execute("return location.pathname;", vec![])
        .await
        .unwrap();
    let kasm_id = path
        .as_str()
        .unwrap()
        .trim_start_matches("/session/")
        .to_owned();
    wait_until(&owner, "the desktop to render", DESKTOP_DRAWN).await;
    let container = container_of(&kasm_id);
    assert!(!container.is_empty(), "no container for the session");

    // Open a terminal (Ctrl+Alt+T) and run a command in it.
    owner.enter_frame(Some(0)).await.unwrap();
    owner
        .find(Locator::Css("canvas"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    chord(&owner, &[Key::Control.into(), Key::Alt.into()], 't').await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let command: Vec<char> = "touch /tmp/berth-e2e-typed"
        .chars()
        .chain([Key::Enter.into()])
        .collect();
    keys(&owner, &command).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let exists = Command::new("docker")
            .args(["exec", &container, "test", "-f", "/tmp/berth-e2e-typed"])
            .status()
            .unwrap();
        if exists.success() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the typed command never ran in the desktop"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    owner.enter_parent_frame().await.unwrap();

    // The other user is refused the desktop (page and websocket).
    let other = browser().await;
    sign_in(&other, &other_name, "other-password").await;
    assert_eq!(
        fetch_status(&other, &format!("/desktop/{kasm_id}/vnc.html")).await,
        403
    );
    let socket = other
        .execute_async(
            "const [path, done] = arguments; const ws = new WebSocket(`ws://${location.host}${path}`); ws.onopen = () => done('open'); ws.onerror = () => done('refused');",
            vec![json!(format!("/desktop/{kasm_id}/websockify"))],
        )
        .await
        .unwrap();
    assert_eq!(socket, json!("refused"));
    other
        .goto(&format!("{}/session/{kasm_id}", var("BERTH_URL")))
        .await
        .unwrap();
    let problem = other
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#session-problem"))
        .await
        .unwrap();
    assert!(problem.text().await.unwrap().contains("someone else"));
    other.close().await.unwrap();

    // Delete from the control panel: back on the dashboard, and the container is gone.
    owner
        .find(Locator::Css("#panel-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let delete = owner
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#delete-session"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // the panel slides in
    delete.click().await.unwrap();
    wait_until(
        &owner,
        "the dashboard after deleting",
        "return location.pathname === '/';",
    )
    .await;
    assert!(
        container_of(&kasm_id).is_empty(),
        "the container survived the deletion"
    );
    owner.close().await.unwrap();
}
