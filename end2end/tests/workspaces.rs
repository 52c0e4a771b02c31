//! The other two default workspaces in the browser, in turn: Desktop Deluxe (its terminal runs
//! what is typed) and the Firefox kiosk (Firefox draws the screen); and a session stopped and
//! resumed from "My sessions" comes back with its files. Needs Docker and the session images.
use end2end::*;
use fantoccini::{Client, Locator};
use std::process::Command;
use std::time::Duration;

fn in_container(container: &str, command: &str) -> bool {
    Command::new("docker")
        .args(["exec", container, "sh", "-c", command])
        .status()
        .unwrap()
        .success()
}

fn container_running(container: &str) -> bool {
    let output = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "true"
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// On the dashboard, presses a session's button (`stop`, `resume`, `pause`, or Delete).
async fn session_button(client: &Client, session_id: &str, button: &str) {
    let selector = match button {
        "delete" => format!("li.session-row[data-session-id='{session_id}'] button.danger"),
        change => {
            format!("li.session-row[data-session-id='{session_id}'] button[data-change='{change}']")
        }
    };
    click(client, &selector).await;
}

async fn dashboard(client: &Client) {
    client.goto(&base()).await.unwrap();
    hydrated(client).await;
}

async fn dashboard_state(client: &Client, session_id: &str, state: &str) {
    wait_until(
        client,
        &format!("the session to show {state}"),
        &format!("return !!document.querySelector(\"li.session-row[data-session-id='{session_id}'] .state-{state}\");"),
    )
    .await;
}

#[tokio::test]
async fn desktop_deluxe_and_firefox_work_in_turn_and_a_stopped_session_resumes() {
    let user = browser().await;
    sign_in(&user, "admin", &var("BERTH_ADMIN_PASSWORD")).await;

    // Desktop Deluxe: its terminal runs what is typed.
    let session_id = launch(&user, "Desktop Deluxe").await;
    let container = container_of(&session_id);
    assert!(
        touch_through_terminal(&user, &container, "/tmp/berth-e2e-deluxe").await,
        "the typed command never ran in Desktop Deluxe"
    );
    dashboard(&user).await;
    session_button(&user, &session_id, "delete").await;
    wait_for("the Deluxe container to go", || {
        container_of(&session_id).is_empty()
    })
    .await;

    // Firefox: the kiosk's browser runs and draws the screen.
    let session_id = launch(&user, "Firefox").await;
    let container = container_of(&session_id);
    wait_for("Firefox in its container", || {
        in_container(
            &container,
            "cat /proc/[0-9]*/comm 2>/dev/null | grep -q firefox",
        )
    })
    .await;

    // Stop it from "My sessions": the container stops but stays; Resume brings it back with
    // its files, and the desktop draws again.
    assert!(in_container(&container, "echo kept > /tmp/berth-e2e-kept"));
    dashboard(&user).await;
    session_button(&user, &session_id, "stop").await;
    dashboard_state(&user, &session_id, "stopped").await;
    assert!(
        !container_running(&container),
        "the stopped container still runs"
    );
    session_button(&user, &session_id, "resume").await;
    dashboard_state(&user, &session_id, "running").await;
    assert!(in_container(&container, "grep -q kept /tmp/berth-e2e-kept"));
    user.find(Locator::Css(&format!(
        "li.session-row[data-session-id='{session_id}'] a.button"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_until(&user, "the resumed desktop to render", DESKTOP_DRAWN).await;
    dashboard(&user).await;
    session_button(&user, &session_id, "delete").await;
    wait_for("the Firefox container to go", || {
        container_of(&session_id).is_empty()
    })
    .await;
    user.close().await.unwrap();
}
