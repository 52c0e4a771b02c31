//! Sign-in and user administration, driven through real Chromium against a running server.
use end2end::*;
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;

async fn path(client: &fantoccini::Client) -> String {
    client.current_url().await.unwrap().path().to_owned()
}

async fn wait_for_path(client: &fantoccini::Client, expected: &str) {
    let script = format!("return location.pathname === {};", json!(expected));
    wait_until(client, &format!("the page {expected}"), &script).await;
}

struct Env {
    base: String,
    admin_password: String,
}

fn env() -> Env {
    Env {
        base: base(),
        admin_password: var("BERTH_ADMIN_PASSWORD"),
    }
}

async fn sign_in(client: &fantoccini::Client, _env: &Env, username: &str, password: &str) {
    submit_sign_in(client, username, password).await;
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
    // The list reloads while the search runs: wait for its final state (the admin row gone,
    // the matching user shown), not for the first moment the admin row is gone.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shown = |css: String| {
            let client = client.clone();
            async move {
                !client
                    .find_all(Locator::Css(&css))
                    .await
                    .unwrap()
                    .is_empty()
            }
        };
        let admin_shown = shown("tr[data-username='admin']".into()).await;
        let user_shown = shown(row.clone()).await;
        if !admin_shown && user_shown {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the search did not narrow the list to the matching user (admin shown: \
             {admin_shown}, user shown: {user_shown})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
        fetch_status(&client, "/").await,
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
    assert_eq!(fetch_status(&client, "/admin/users").await, 403);
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
