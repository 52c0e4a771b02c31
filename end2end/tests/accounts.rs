//! Sign-in and user administration, driven through real Chromium against a running server.
//! Needs BERTH_URL, WEBDRIVER_URL (chromedriver) and BERTH_ADMIN_PASSWORD; ./scripts/test
//! provides them.
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(30);

struct Env {
    base: String,
    admin_password: String,
}

fn env() -> Env {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the end2end tests through ./scripts/test")
        })
    };
    Env {
        base: var("BERTH_URL"),
        admin_password: var("BERTH_ADMIN_PASSWORD"),
    }
}

async fn browser() -> Client {
    let webdriver = std::env::var("WEBDRIVER_URL")
        .expect("WEBDRIVER_URL is not set: run through ./scripts/test");
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
        .connect(&webdriver)
        .await
        .expect("cannot reach chromedriver")
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}{}", std::process::id(), nanos % 1_000_000_000)
}

/// Waits until the WASM has hydrated the page (the app marks <body> then).
async fn hydrated(client: &Client) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("body[data-hydrated='true']"))
        .await
        .expect("the page never hydrated: is the WASM bundle served?");
}

async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_owned()
}

async fn wait_for_path(client: &Client, expected: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = path(client).await;
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected to reach {expected}, still at {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(client: &Client, env: &Env, username: &str, password: &str) {
    client.goto(&format!("{}/login", env.base)).await.unwrap();
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

async fn text_of(client: &Client, css: &str) -> String {
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

/// The HTTP status the browser gets for a path, with its cookies.
async fn status_of(client: &Client, path: &str) -> u64 {
    let script = "const [path, done] = arguments; fetch(path, {redirect: 'manual'}).then(r => done(r.status)).catch(() => done(-1));";
    client
        .execute_async(script, vec![json!(path)])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn admin_creates_a_user_who_signs_in_and_is_kept_out_of_admin() {
    let env = env();
    let client = browser().await;
    let username = format!("e2e{}", unique());
    let password = "e2e-password-1";

    // The admin signs in and lands on the dashboard.
    sign_in(&client, &env, "admin", &env.admin_password).await;
    wait_for_path(&client, "/").await;
    hydrated(&client).await;
    assert_eq!(text_of(&client, "main h1").await, "Workspaces");

    // Admin → Users: create a user through the form.
    client
        .goto(&format!("{}/admin/users", env.base))
        .await
        .unwrap();
    hydrated(&client).await;
    let form = client
        .find(Locator::Css("#create-user-form"))
        .await
        .unwrap();
    form.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(&username)
        .await
        .unwrap();
    form.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    form.find(Locator::Css("input[name=first_name]"))
        .await
        .unwrap()
        .send_keys("Edie")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = format!("tr[data-username='{username}']");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&row))
        .await
        .expect("the new user never appeared in the list");

    // Searching filters the list in place, without reloading the page.
    client
        .execute("window.__berthNoReload = true;", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Css("#user-search"))
        .await
        .unwrap()
        .send_keys(&username)
        .await
        .unwrap();
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("tr[data-username='admin']"))
        .await
        .ok(); // may already be gone
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let admin_rows = client
            .find_all(Locator::Css("tr[data-username='admin']"))
            .await
            .unwrap();
        if admin_rows.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "search did not filter out the admin row"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        client.find(Locator::Css(&row)).await.is_ok(),
        "search hid the matching user"
    );
    let still_same_page = client
        .execute("return window.__berthNoReload === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        still_same_page,
        json!(true),
        "the search reloaded the page instead of updating it"
    );

    // A duplicate username is refused with an inline message.
    let form = client
        .find(Locator::Css("#create-user-form"))
        .await
        .unwrap();
    form.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(&username.to_uppercase())
        .await
        .unwrap();
    form.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let message = text_of(&client, "#create-user-form .error").await;
    assert!(
        message.contains("already taken"),
        "unexpected message: {message}"
    );

    // Sign out: back to the sign-in page, and the dashboard is closed again.
    client
        .find(Locator::Css("#sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "/login").await;
    assert_eq!(
        status_of(&client, "/").await,
        0,
        "an anonymous fetch of / should be redirected (opaque)"
    );

    // The new user signs in and sees the dashboard.
    sign_in(&client, &env, &username, password).await;
    wait_for_path(&client, "/").await;
    hydrated(&client).await;
    assert_eq!(text_of(&client, "main h1").await, "Workspaces");
    let dashboard = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#workspaces, #no-workspaces"))
        .await;
    assert!(
        dashboard.is_ok(),
        "the dashboard shows neither workspaces nor the empty state"
    );
    assert!(
        client
            .find(Locator::Css("a[href='/admin/users']"))
            .await
            .is_err(),
        "a user sees the Admin link"
    );

    // The admin pages answer 403 to this user, and show why.
    assert_eq!(status_of(&client, "/admin/users").await, 403);
    client
        .goto(&format!("{}/admin/users", env.base))
        .await
        .unwrap();
    assert!(text_of(&client, "#forbidden")
        .await
        .contains("Only administrators"));
    assert!(
        client.find(Locator::Css("#users")).await.is_err(),
        "the user list leaked to a non-admin"
    );

    client.close().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_shows_an_error_and_starts_no_session() {
    let env = env();
    let client = browser().await;
    sign_in(&client, &env, "admin", "definitely-not-the-password").await;
    let message = text_of(&client, "#login-form .error").await;
    assert!(
        message.contains("Wrong username or password"),
        "unexpected message: {message}"
    );
    assert_eq!(path(&client).await, "/login");
    let cookies = client.get_all_cookies().await.unwrap();
    assert!(
        cookies
            .iter()
            .all(|cookie| cookie.name() != "berth_session"),
        "a session cookie was set"
    );
    client.goto(&env.base).await.unwrap();
    wait_for_path(&client, "/login").await;
    client.close().await.unwrap();
}
