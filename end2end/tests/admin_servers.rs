//! Admin → Servers in a browser: adding an agent shows its credential once, with the command
//! that starts it from a file; "New credential" replaces it and "Revoke" takes it away. The
//! manager's answer to a check-in (posted from the admin's tab, as an agent would post it)
//! follows: only the current credential is accepted.
use end2end::*;
use fantoccini::{Client, Locator};
use serde_json::json;

/// POSTs an agent's check-in under `name` with `credential`; the HTTP status. It reports no
/// images, so no session is ever placed on this stand-in agent.
async fn check_in(client: &Client, credential: &str, name: &str) -> u64 {
    let body = json!({
        "name": name, "hostname": name, "agent_url": "http://127.0.0.1:9", "address": "127.0.0.1",
        "cores": 1.0, "memory": 1_i64 << 30, "gpus": 0, "disk_free": 1_i64 << 30, "sessions": [],
        "images_present": [], "images_missing": [], "version": "e2e", "interval_secs": 5,
        "api_secret": "e2e-stand-in-agent-api-secret-0123456789"
    });
    let script = "const [credential, body, done] = arguments; \
        fetch('/api/agent/checkin', {method: 'POST', headers: {'content-type': 'application/json', \
        'authorization': 'Bearer ' + credential}, body: JSON.stringify(body)}) \
        .then(r => done(r.status)).catch(() => done(-1));";
    client
        .execute_async(script, vec![json!(credential), body])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

/// Waits until the credential card shows one other than `previous`; returns it.
async fn new_credential(admin: &Client, previous: &str) -> String {
    let script = format!(
        "const shown = document.querySelector('#agent-credential'); \
         return !!shown && shown.textContent.trim() !== {};",
        json!(previous)
    );
    wait_until(admin, "a new credential", &script).await;
    text_of(admin, "#agent-credential").await
}

#[tokio::test]
async fn an_added_agent_checks_in_with_its_credential_only_until_it_is_replaced_or_revoked() {
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    admin
        .goto(&format!("{}/admin/servers", base()))
        .await
        .unwrap();
    hydrated(&admin).await;
    let name = format!("e2e-agent-{}", unique());
    admin
        .find(Locator::Css("#add-server-form input[name=name]"))
        .await
        .unwrap()
        .send_keys(&name)
        .await
        .unwrap();
    click(&admin, "#add-server-form button[type=submit]").await;
    let first = new_credential(&admin, "").await;
    let command = text_of(&admin, "#agent-command").await;
    assert!(
        command.contains(&format!("--name {name}")) && command.contains("--token-file"),
        "{command}"
    );
    assert!(
        !command.contains(&first),
        "the command line never carries it"
    );
    let row = format!("tr[data-hostname='{name}']");
    wait_until(
        &admin,
        "the new server's row",
        &format!("return !!document.querySelector(\"{row}\");"),
    )
    .await;
    assert_eq!(check_in(&admin, &first, &name).await, 200);
    assert_eq!(
        check_in(&admin, &first, "someone-else").await,
        403,
        "its credential is bound to its name"
    );

    click(&admin, &format!("{row} button.new-credential")).await;
    let second = new_credential(&admin, &first).await;
    assert_eq!(check_in(&admin, &first, &name).await, 401);
    assert_eq!(check_in(&admin, &second, &name).await, 200);

    click(&admin, &format!("{row} button.revoke")).await;
    wait_until(
        &admin,
        "the row to show no credential",
        &format!(
            "const row = document.querySelector(\"{row}\"); \
             return !!row && row.textContent.includes('none: cannot check in');"
        ),
    )
    .await;
    assert_eq!(check_in(&admin, &second, &name).await, 401);
    admin.close().await.unwrap();
}
