//! Admin → Staging in Chromium: an administrator stages a workspace; the page shows a desktop
//! ready; a user's launch from the dashboard takes it (the page counts it used and the pool
//! refills); deleting the staging recycles what it kept. Registers its own workspace, so the
//! other tests' launches of the default workspaces stay cold.
use end2end::*;
use fantoccini::Client;
use serde_json::json;

/// Waits until the staging row of the workspace shows `count` in its `column` (the page
/// refreshes itself).
async fn shows(admin: &Client, workspace: &str, column: &str, count: u32) {
    let script = format!(
        "const cell = document.querySelector(\"tr[data-image='{workspace}'] td.{column}\"); \
         return !!cell && cell.textContent.trim() === '{count}';"
    );
    wait_until(
        admin,
        &format!("{column} = {count} on Admin → Staging"),
        &script,
    )
    .await;
}

#[tokio::test]
async fn a_staged_desktop_is_shown_ready_and_handed_to_the_next_launch() {
    let id = unique();
    let (member_name, workspace) = (format!("sm{id}"), format!("Warm {id}"));
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    create_user_as_admin(&admin, &member_name, "e2e-password-1").await;
    let image_id = register_workspace(&admin, &workspace).await;

    // Stage one desktop of it for ten minutes.
    open(&admin, "/admin/staging").await;
    let choose = format!(
        "const select = document.querySelector('#staging-form select[name=image_id]'); \
         const option = select && [...select.options].find(o => o.textContent === {}); \
         if (!option) return false; select.value = option.value; return true;",
        json!(workspace)
    );
    wait_until(&admin, "the workspace among the choices", &choose).await;
    fill(&admin, "#staging-form input[name=desired]", "1").await;
    fill(&admin, "#staging-form input[name=expiry]", "10m").await;
    click(&admin, "#staging-form button[type=submit]").await;
    shows(&admin, &workspace, "desired", 1).await;
    shows(&admin, &workspace, "ready", 1).await;

    // The member's launch takes it: used 1, and the pool is ready again behind it.
    let member = browser().await;
    sign_in(&member, &member_name, "e2e-password-1").await;
    let session_id = launch(&member, &workspace).await;
    shows(&admin, &workspace, "used", 1).await;
    shows(&admin, &workspace, "ready", 1).await;

    // Stopping the staging recycles the ready desktop; the member's stays.
    admin
        .execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    click(
        &admin,
        &format!("tr[data-image='{workspace}'] button.delete"),
    )
    .await;
    let gone = format!("return !document.querySelector(\"tr[data-image='{workspace}']\");");
    wait_until(&admin, "the staging row to go", &gone).await;
    assert!(
        !container_of(&session_id).is_empty(),
        "the member's desktop went too"
    );

    let ended = post(
        &member,
        "sessions/delete",
        json!({"session_id": session_id}),
    )
    .await;
    assert_eq!(ended[0], 200, "{ended}");
    delete_workspace(&admin, &image_id).await;
    member.close().await.unwrap();
    admin.close().await.unwrap();
}
