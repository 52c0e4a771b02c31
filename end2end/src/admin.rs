//! Administrators' steps shared by the browser tests: opening a page, filling a field,
//! calling a server function from the page, registering a workspace, making a group.
use crate::{base, click, hydrated, wait_until};
use fantoccini::{Client, Locator};
use serde_json::json;

/// Opens the page and waits until it is hydrated.
pub async fn open(client: &Client, path: &str) {
    client.goto(&format!("{}{path}", base())).await.unwrap();
    hydrated(client).await;
}

/// Replaces the field's text (once the field is there: forms appear after a fetch).
pub async fn fill(client: &Client, css: &str, text: &str) {
    let field = client
        .wait()
        .at_most(crate::WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The server function's answer (its status) for a form-encoded POST from the page.
pub async fn post(client: &Client, endpoint: &str, form: serde_json::Value) -> serde_json::Value {
    client
        .execute_async(
            "const [endpoint, form, done] = arguments; fetch('/rpc/' + endpoint, {method: 'POST', headers: {accept: 'application/json'}, body: new URLSearchParams(form)}).then(async r => done([r.status, await r.text()]));",
            vec![json!(endpoint), form],
        )
        .await
        .unwrap()
}

/// Registers a workspace through Admin → Images' server function; answers its id.
pub async fn register_workspace(admin: &Client, name: &str) -> String {
    let saved = post(admin, "admin/save_image", json!({
        "image_id": "", "friendly_name": name, "name": "berth/desktop:latest", "description": "",
        "image_src": "", "categories": "", "cores": "1", "memory": "1g", "network_mode": "bridge",
        "enabled": "on", "run_config": "{}"
    })).await;
    assert_eq!(saved[0], 200, "{saved}");
    serde_json::from_str::<String>(saved[1].as_str().unwrap()).unwrap()
}

/// Creates a group through Admin → Groups; its page opens. Answers its id.
pub async fn create_group(admin: &Client, name: &str) -> String {
    open(admin, "/admin/groups").await;
    fill(admin, "#create-group-form input[name=name]", name).await;
    click(admin, "#create-group-form button[type=submit]").await;
    let opened = "return location.pathname.startsWith('/admin/groups/') && !!document.querySelector('#add-member-form');";
    wait_until(admin, "the group's page", opened).await;
    hydrated(admin).await;
    let path = admin.current_url().await.unwrap().path().to_owned();
    path.trim_start_matches("/admin/groups/").to_owned()
}

/// On a group's page: adds the user, then sets a setting.
pub async fn add_member_and_set(admin: &Client, username: &str, setting: &str, value: &str) {
    fill(admin, "#add-member-form input[name=username]", username).await;
    click(admin, "#add-member-form button[type=submit]").await;
    let listed = format!("return !!document.querySelector(\"li[data-member='{username}']\");");
    wait_until(admin, "the member in the list", &listed).await;
    let row = format!("tr[data-setting='{setting}']");
    fill(admin, &format!("{row} input.setting-value"), value).await;
    click(admin, &format!("{row} button.save-setting")).await;
}

/// Deletes a workspace once its sessions are gone (they end in the background: until then
/// the deletion is refused as a conflict).
pub async fn delete_workspace(admin: &Client, image_id: &str) {
    let deadline = tokio::time::Instant::now() + crate::WAIT;
    loop {
        let deleted = post(admin, "admin/delete_image", json!({"image_id": image_id})).await;
        if deleted[0] == 200 {
            return;
        }
        assert!(
            deleted[0] != 500 && tokio::time::Instant::now() < deadline,
            "the workspace was not deleted: {deleted}"
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
