//! Admin → Groups in Chromium: an administrator creates a group, adds a member, assigns a
//! workspace and sets a setting; the member's dashboard then offers that workspace, and the
//! member's effective settings name the group. Registers its own workspace (and takes it off
//! All Users), so the default workspaces of the other tests are left as they are.
use end2end::*;
use fantoccini::{Client, Locator};
use serde_json::json;

async fn open(client: &Client, path: &str) {
    client.goto(&format!("{}{path}", base())).await.unwrap();
    hydrated(client).await;
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The server function's answer (its status) for a form-encoded POST from the page.
async fn post(client: &Client, endpoint: &str, form: serde_json::Value) -> serde_json::Value {
    client
        .execute_async(
            "const [endpoint, form, done] = arguments; fetch('/rpc/' + endpoint, {method: 'POST', headers: {accept: 'application/json'}, body: new URLSearchParams(form)}).then(async r => done([r.status, await r.text()]));",
            vec![json!(endpoint), form],
        )
        .await
        .unwrap()
}

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
    let saved = post(&admin, "admin/save_image", json!({
        "image_id": "", "friendly_name": workspace, "name": "berth/desktop:latest", "description": "",
        "image_src": "", "categories": "", "cores": "1", "memory": "1g", "network_mode": "bridge",
        "enabled": "on", "run_config": "{}"
    })).await;
    assert_eq!(saved[0], 200, "{saved}");
    let image_id = serde_json::from_str::<String>(saved[1].as_str().unwrap()).unwrap();

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
    click(
        &admin,
        &format!("li[data-image='{workspace}'] input.assign-image"),
    )
    .await;
    let member = browser().await;
    sign_in(&member, &member_name, "e2e-password-1").await;
    wait_until(
        &admin,
        "the change",
        &format!("return !document.querySelector(\"li[data-image='{workspace}'] input\").checked;"),
    )
    .await;
    assert!(
        !tile_shown(&member, &workspace).await,
        "the member saw a workspace of no group of theirs"
    );

    // Create the group: its page opens.
    open(&admin, "/admin/groups").await;
    fill(&admin, "#create-group-form input[name=name]", &group_name).await;
    click(&admin, "#create-group-form button[type=submit]").await;
    wait_until(&admin, "the group's page", "return location.pathname.startsWith('/admin/groups/') && !!document.querySelector('#add-member-form');").await;
    hydrated(&admin).await;
    let group_path = admin.current_url().await.unwrap().path().to_owned();
    let group_id = group_path.trim_start_matches("/admin/groups/").to_owned();

    // Add the member, assign the workspace, set a setting.
    fill(
        &admin,
        "#add-member-form input[name=username]",
        &member_name,
    )
    .await;
    click(&admin, "#add-member-form button[type=submit]").await;
    wait_until(
        &admin,
        "the member in the list",
        &format!("return !!document.querySelector(\"li[data-member='{member_name}']\");"),
    )
    .await;
    click(
        &admin,
        &format!("li[data-image='{workspace}'] input.assign-image"),
    )
    .await;
    wait_until(
        &admin,
        "the workspace assigned",
        &format!("return document.querySelector(\"li[data-image='{workspace}'] input\").checked;"),
    )
    .await;
    fill(
        &admin,
        "tr[data-setting='max_kasms_per_user'] input.setting-value",
        "7",
    )
    .await;
    click(
        &admin,
        "tr[data-setting='max_kasms_per_user'] button.save-setting",
    )
    .await;
    wait_until(&admin, "the setting saved", "return document.querySelector(\"tr[data-setting='max_kasms_per_user'] input.setting-value\").value === '7';").await;

    // The member's dashboard now offers the workspace.
    assert!(
        tile_shown(&member, &workspace).await,
        "the member's dashboard did not change"
    );

    // The member's effective settings name the group.
    let users = post(&admin, "admin/list_users", json!({"search": member_name})).await;
    let list: serde_json::Value = serde_json::from_str(users[1].as_str().unwrap()).unwrap();
    let user_id = list[0]["user_id"].as_str().unwrap().to_owned();
    open(&admin, &format!("/admin/users/{user_id}")).await;
    let row = "#effective-settings tr[data-setting='max_kasms_per_user']";
    assert_eq!(text_of(&admin, &format!("{row} td.value")).await, "7");
    assert_eq!(
        text_of(&admin, &format!("{row} td.source")).await,
        group_name
    );
    assert!(text_of(&admin, "#user-groups").await.contains(&group_name));

    // Leave nothing behind: the workspace and the group go.
    let deleted = post(&admin, "admin/delete_image", json!({"image_id": image_id})).await;
    assert_eq!(deleted[0], 200, "{deleted}");
    let deleted = post(&admin, "admin/delete_group", json!({"group_id": group_id})).await;
    assert_eq!(deleted[0], 200, "{deleted}");
    member.close().await.unwrap();
    admin.close().await.unwrap();
}
