//! Two people in two browsers share a session: the viewer sees the owner's desktop, cannot
//! type into it, and both chat.
use end2end::*;
use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;

async fn post_chat(client: &Client, text: &str) {
    let input = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#chat-input"))
        .await
        .unwrap();
    input.send_keys(text).await.unwrap();
    client
        .find(Locator::Css("#chat-send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn wait_for_chat(client: &Client, text: &str) {
    let script = format!(
        "return [...document.querySelectorAll('#chat-messages .chat-text')].some(e => e.textContent === {});",
        json!(text)
    );
    wait_until(client, &format!("the chat message {text:?}"), &script).await;
}

#[tokio::test]
async fn a_viewer_watches_cannot_type_and_chats_with_the_owner() {
    let owner = browser().await;
    sign_in(&owner, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    let viewer_name = format!("viewer{}", unique());
    create_user_as_admin(&owner, &viewer_name, "viewer-password").await;
    let session_id = launch(&owner, "Desktop").await;
    let container = container_of(&session_id);

    // The owner shares the session from the control panel.
    let link = share_link(&owner).await;

    // The viewer opens the link and sees the desktop.
    let viewer = browser().await;
    sign_in(&viewer, &viewer_name, "viewer-password").await;
    viewer.goto(&format!("{}{link}", base())).await.unwrap();
    wait_until(&viewer, "the shared desktop to render", DESKTOP_DRAWN).await;
    assert!(text_of(&viewer, "#watching").await.contains("view only"));

    // The owner sees the viewer listed.
    let listed =
        format!("return !!document.querySelector(\"#viewers li[data-username='{viewer_name}']\");");
    wait_until(&owner, "the viewer in the owner's list", &listed).await;

    // The viewer's keys change nothing in the desktop.
    type_in_terminal(&viewer, "touch /tmp/berth-e2e-viewer").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !file_exists(&container, "/tmp/berth-e2e-viewer"),
        "the viewer typed into the owner's desktop"
    );

    // Chat both ways; markup stays text.
    post_chat(&viewer, "hello <b>owner</b>").await;
    wait_for_chat(&owner, "hello <b>owner</b>").await;
    let bold = owner
        .execute(
            "return document.querySelector('#chat-messages b') !== null;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bold, json!(false), "chat markup was rendered as HTML");
    post_chat(&owner, "welcome, viewer").await;
    wait_for_chat(&viewer, "welcome, viewer").await;

    // Stopping sharing ends the viewer's access.
    click(&owner, "#share-off").await;
    wait_until(
        &viewer,
        "the viewer's chat to end",
        "return !!document.getElementById('chat-ended');",
    )
    .await;
    assert_eq!(
        fetch_status(&viewer, &format!("/desktop/{session_id}/vnc.html")).await,
        403
    );
    viewer.close().await.unwrap();

    click(&owner, "#delete-session").await;
    wait_until(
        &owner,
        "the dashboard after deleting",
        "return location.pathname === '/';",
    )
    .await;
    owner.close().await.unwrap();
}
