//! Admin → Groups in Chromium: an administrator creates a group, adds a member, assigns a
//! workspace and sets a setting; the member's dashboard then offers that workspace, and the
//! member's effective settings name the group. Registers its own workspace (and takes it off
//! All Users), so the default workspaces of the other tests are left as they are.
use end2end::*;
use fantoccini::{Client, Locator};
use serde_json::json;

async fn tile_shown(client: &Client, name: &str) -> bool {
    open(client, "/").await;
    wait_until(
        client,
        "the workspaces",
        "return !!document.querySelector('#workspaces, #no-workspaces');",
    )
    .await;
    client
        .find(Locator::Css(&format!("li.tile[data-name='{name}']")))
        .await
        .is_ok()
}

/// On a group's page: ticks or unticks the workspace and waits until the page shows it.
async fn assign(admin: &Client, workspace: &str, assigned: bool) {
    let checkbox = format!("li[data-image='{workspace}'] input.assign-image");
    click(admin, &checkbox).await;
    let script = format!("return document.querySelector(\"{checkbox}\").checked === {assigned};");
    wait_until(admin, "the workspace's assignment", &script).await;
}

/// A user's effective value of a setting and where it came from, from their admin page.
async fn effective(admin: &Client, username: &str, setting: &str) -> (String, String, String) {
    let users = post(admin, "admin/list_users", json!({"search": username})).await;
    let list: serde_json::Value = serde_json::from_str(users[1].as_str().unwrap()).unwrap();
    open(
        admin,
        &format!("/admin/users/{}", list[0]["user_id"].as_str().unwrap()),
    )
    .await;
    let row = format!("#effective-settings tr[data-setting='{setting}']");
    let value = text_of(admin, &format!("{row} td.value")).await;
    (
        value,
        text_of(admin, &format!("{row} td.source")).await,
        text_of(admin, "#user-groups").await,
    )
}

#[tokio::test]
async fn a_group_gives_its_member_a_workspace_and_its_settings() {
    let id = unique();
    let (member_name, group_name, workspace) = (
        format!("gm{id}"),
        format!("Group {id}"),
        format!("Secret {id}"),
    );
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    create_user_as_admin(&admin, &member_name, "e2e-password-1").await;
    let image_id = register_workspace(&admin, &workspace).await;

    // The new workspace is offered to All Users at first: take it off there.
    open(&admin, "/admin/groups").await;
    click(&admin, "tr[data-group='All Users'] td.name a").await;
    wait_until(
        &admin,
        "the All Users page",
        "return !!document.querySelector('#group-workspaces');",
    )
    .await;
    hydrated(&admin).await;
    assign(&admin, &workspace, false).await;
    let member = browser().await;
    sign_in(&member, &member_name, "e2e-password-1").await;
    assert!(
        !tile_shown(&member, &workspace).await,
        "the member saw a workspace of no group of theirs"
    );

    // Create the group, add the member, assign the workspace, set a setting.
    let group_id = create_group(&admin, &group_name).await;
    add_member_and_set(&admin, &member_name, "max_kasms_per_user", "7").await;
    assign(&admin, &workspace, true).await;

    // The member's dashboard now offers the workspace; their settings name the group.
    assert!(
        tile_shown(&member, &workspace).await,
        "the member's dashboard did not change"
    );
    let (value, source, groups) = effective(&admin, &member_name, "max_kasms_per_user").await;
    assert_eq!(
        (value.as_str(), source.as_str()),
        ("7", group_name.as_str())
    );
    assert!(groups.contains(&group_name), "{groups}");

    // Leave nothing behind: the workspace and the group go.
    let deleted = post(&admin, "admin/delete_image", json!({"image_id": image_id})).await;
    assert_eq!(deleted[0], 200, "{deleted}");
    let deleted = post(&admin, "admin/delete_group", json!({"group_id": group_id})).await;
    assert_eq!(deleted[0], 200, "{deleted}");
    member.close().await.unwrap();
    admin.close().await.unwrap();
}

/// The administrator ends the member's session and deletes the group; both browsers close.
async fn clean_up(admin: Client, member: Client, session_id: &str, group_id: &str) {
    let ended = post(
        &admin,
        "admin/destroy_session",
        json!({"session_id": session_id}),
    )
    .await;
    assert_eq!(ended[0], 200, "{ended}");
    let deleted = post(&admin, "admin/delete_group", json!({"group_id": group_id})).await;
    assert_eq!(deleted[0], 200, "{deleted}");
    member.close().await.unwrap();
    admin.close().await.unwrap();
}

/// Whether the element is on the page now.
async fn shown(client: &Client, css: &str) -> bool {
    client.find(Locator::Css(css)).await.is_ok()
}

#[tokio::test]
async fn actions_a_group_switches_off_are_not_offered_and_the_users_list_names_the_group() {
    let id = unique();
    let (member_name, group_name) = (format!("gc{id}"), format!("No delete {id}"));
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    create_user_as_admin(&admin, &member_name, "e2e-password-1").await;
    let group_id = create_group(&admin, &group_name).await;
    add_member_and_set(&admin, &member_name, "allow_kasm_delete", "false").await;
    for (setting, value) in [
        ("allow_kasm_pause", "false"),
        ("allow_kasm_clipboard_up", "false"),
    ] {
        let form = json!({"group_id": group_id, "name": setting, "value": value});
        let saved = post(&admin, "admin/group_setting", form).await;
        assert_eq!(saved[0], 200, "{saved}");
    }

    // Admin → Users names the member's group.
    open(&admin, "/admin/users").await;
    let row = format!("tr[data-username='{member_name}'] td.groups");
    let script = format!(
        "const cell = document.querySelector(\"{row}\"); return !!cell && cell.textContent.includes({});",
        json!(group_name)
    );
    wait_until(&admin, "the member's groups in the Users list", &script).await;

    // The member's session page offers neither deleting nor pasting in; copying out stays.
    let member = browser().await;
    sign_in(&member, &member_name, "e2e-password-1").await;
    let session_id = launch(&member, "Desktop").await;
    click(&member, "#panel-toggle").await;
    wait_until(
        &member,
        "the control panel",
        "return !!document.querySelector('#back');",
    )
    .await;
    assert!(shown(&member, "#clipboard-down-note").await);
    assert!(!shown(&member, "#delete-session").await, "delete offered");
    assert!(!shown(&member, "#send-clipboard").await, "paste offered");

    // Their dashboard's row offers Stop but neither Pause nor Delete.
    open(&member, "/").await;
    let stop = format!("li[data-session-id='{session_id}'] button[data-change='stop']");
    wait_until(
        &member,
        "the session's row",
        &format!("return !!document.querySelector(\"{stop}\");"),
    )
    .await;
    for change in ["pause", "delete"] {
        let css = format!("li[data-session-id='{session_id}'] button[data-change='{change}']");
        assert!(!shown(&member, &css).await, "{change} offered");
    }

    clean_up(admin, member, &session_id, &group_id).await;
}

#[tokio::test]
async fn the_audit_page_finds_an_administrators_change_by_its_filters() {
    let name = format!("au{}", unique());
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    create_user_as_admin(&admin, &name, "e2e-password-1").await;

    // Filtered by action and target (the form's own fields): the creation, by admin, ok.
    open(&admin, "/admin/audit").await;
    fill(&admin, "#audit-filters input[name=action]", "create_user").await;
    fill(&admin, "#audit-filters input[name=target]", &name).await;
    click(&admin, "#audit-filters button[type=submit]").await;
    let one_entry =
        "return document.querySelectorAll('#audit-entries tr.audit-entry').length === 1;";
    wait_until(&admin, "the filtered audit entries", one_entry).await;
    let entry = text_of(&admin, "#audit-entries tr.audit-entry").await;
    for expected in ["admin", "create_user", name.as_str(), "ok"] {
        assert!(entry.contains(expected), "{expected} missing from {entry}");
    }
    // Another outcome: nothing matches.
    let denied = format!("/admin/audit?action=create_user&target={name}&outcome=denied");
    open(&admin, &denied).await;
    wait_until(
        &admin,
        "no entries",
        "return !!document.querySelector('#no-audit-entries');",
    )
    .await;
    admin.close().await.unwrap();
}

#[tokio::test]
async fn the_session_page_warns_before_the_idle_disconnect_and_says_when_it_happened() {
    let id = unique();
    let (member_name, group_name) = (format!("gi{id}"), format!("Idle {id}"));
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    create_user_as_admin(&admin, &member_name, "e2e-password-1").await;
    let group_id = create_group(&admin, &group_name).await;
    // A quarter of a minute: the page warns from half of it.
    add_member_and_set(&admin, &member_name, "idle_disconnect", "0.25").await;
    // Saved for certain before the member signs in (the form's save may still be in flight).
    let form = json!({"group_id": group_id, "name": "idle_disconnect", "value": "0.25"});
    let saved = post(&admin, "admin/group_setting", form).await;
    assert_eq!(saved[0], 200, "{saved}");

    // The member opens a desktop and leaves mouse and keyboard alone.
    let member = browser().await;
    sign_in(&member, &member_name, "e2e-password-1").await;
    let session_id = launch(&member, "Desktop").await;
    wait_until(
        &member,
        "the idle warning",
        "return !!document.querySelector('#idle-warning');",
    )
    .await;
    assert!(text_of(&member, "#idle-warning")
        .await
        .contains("disconnected in"));
    wait_until(
        &member,
        "the idle disconnect",
        "return !!document.querySelector('#idle-disconnected');",
    )
    .await;

    clean_up(admin, member, &session_id, &group_id).await;
}
