//! A workspace launched from the dashboard and used in the browser: the desktop renders, a
//! command typed into its terminal takes effect, deleting the session removes its container,
//! and nobody else can reach it. Needs Docker and the session images (./scripts/test).
use end2end::*;
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_user_launches_a_desktop_types_in_it_and_deletes_it() {
    let owner = browser().await;
    sign_in(&owner, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    let other_name = format!("other{}", unique());
    create_user_as_admin(&owner, &other_name, "other-password").await;

    // Launch Desktop from its tile; the session page shows progress, then the desktop.
    let session_id = launch(&owner, "Desktop").await;
    let container = container_of(&session_id);
    assert!(!container.is_empty(), "no container for the session");

    // A command typed into its terminal runs in the session's container.
    assert!(
        touch_through_terminal(&owner, &container, "/tmp/berth-e2e-typed").await,
        "the typed command never ran in the desktop"
    );

    // The other user is refused the desktop (page and websocket).
    let other = browser().await;
    sign_in(&other, &other_name, "other-password").await;
    assert_eq!(
        fetch_status(&other, &format!("/desktop/{session_id}/vnc.html")).await,
        403
    );
    let socket = other
        .execute_async(
            "const [path, done] = arguments; const ws = new WebSocket(`ws://${location.host}${path}`); ws.onopen = () => done('open'); ws.onerror = () => done('refused');",
            vec![json!(format!("/desktop/{session_id}/websockify"))],
        )
        .await
        .unwrap();
    assert_eq!(socket, json!("refused"));
    other
        .goto(&format!("{}/session/{session_id}", base()))
        .await
        .unwrap();
    assert!(text_of(&other, "#session-problem")
        .await
        .contains("someone else"));
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
        container_of(&session_id).is_empty(),
        "the container survived the deletion"
    );
    owner.close().await.unwrap();
}
