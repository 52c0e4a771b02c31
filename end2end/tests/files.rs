//! File transfer from the session's page in Chromium: a file dropped on the desktop and a file
//! picked in the panel are uploaded into the desktop's `~/Uploads` (checked in the container
//! with `docker exec`), and a file made in the desktop appears in the panel's `~/Downloads`
//! list and downloads intact.
use end2end::*;
use fantoccini::Locator;
use serde_json::json;
use std::process::Command;

fn in_container(container: &str, command: &str) -> String {
    let output = Command::new("docker")
        .args(["exec", container, "sh", "-c", command])
        .output()
        .expect("docker");
    assert!(output.status.success(), "{command}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Drops a file `name` holding `text` on the desktop's canvas as the browser would (a
/// `dragover`, then a `drop` carrying it); whether each event was taken.
const DROP: &str = "const frame = document.getElementById('desktop-frame'); \
    const win = frame.contentWindow; \
    const canvas = frame.contentDocument.querySelector('canvas'); \
    const data = new win.DataTransfer(); \
    data.items.add(new win.File([text], name, {type: 'text/plain'})); \
    const events = ['dragover', 'drop'].map(type => new win.DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data})); \
    events.forEach(event => canvas.dispatchEvent(event)); \
    return events.map(event => event.defaultPrevented);";

/// A script: whether the panel says `name` was uploaded.
fn finished(name: &str) -> String {
    format!(
        "return (document.querySelector('#files-message')?.textContent || '').includes({});",
        json!(format!("Uploaded {name}"))
    )
}

#[tokio::test]
async fn files_go_up_from_the_panel_and_come_down_from_the_desktop() {
    let client = browser().await;
    sign_in(&client, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    let session_id = launch(&client, "Desktop").await;
    let container = container_of(&session_id);

    // Drop: a file dropped on the desktop's canvas (in its frame), the panel closed.
    let dropped = format!("berth-e2e-dropped-{}.txt", unique());
    let dropped_content = format!("dropped on the desktop {}\n", unique());
    wait_until(
        &client,
        "the desktop's canvas",
        "return !!document.getElementById('desktop-frame')?.contentDocument?.querySelector('canvas');",
    )
    .await;
    let accepted = client
        .execute(
            &format!("const [name, text] = arguments; {DROP}"),
            vec![json!(dropped), json!(dropped_content)],
        )
        .await
        .unwrap();
    // The desktop takes the drop (it cancels the browser's own handling of both events).
    assert_eq!(accepted, json!([true, true]));
    wait_until(&client, "the dropped file's upload", &finished(&dropped)).await;
    let stored = in_container(&container, &format!("cat ~/Uploads/{dropped}"));
    assert_eq!(stored, dropped_content);

    click(&client, "#panel-toggle").await;

    // Upload: a local file given to the panel's file input.
    let name = format!("berth-e2e-{}.txt", unique());
    let local = std::env::temp_dir().join(&name);
    let content = format!("uploaded from the panel {}\n", unique()).repeat(2000);
    std::fs::write(&local, &content).unwrap();
    let input = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#upload-input"))
        .await
        .unwrap();
    input.send_keys(local.to_str().unwrap()).await.unwrap();
    wait_until(&client, "the upload to finish", &finished(&name)).await;
    let stored = in_container(&container, &format!("cat ~/Uploads/{name}"));
    assert_eq!(stored, content);
    let _ = std::fs::remove_file(&local);

    // Download: a file made in the desktop shows in the list; its link gives its bytes.
    in_container(
        &container,
        "mkdir -p ~/Downloads && seq 1 50000 > ~/Downloads/numbers.txt",
    );
    click(&client, "#downloads-refresh").await;
    wait_until(
        &client,
        "numbers.txt in the list",
        "return !!document.querySelector(\"#downloads li[data-name='numbers.txt'] a\");",
    )
    .await;
    let fetched = client
        .execute_async(
            "const [done] = arguments; const link = document.querySelector(\"#downloads li[data-name='numbers.txt'] a\"); \
             fetch(link.href).then(r => r.text().then(t => done([r.status, r.headers.get('content-disposition'), t.length, t.slice(0, 8)])));",
            vec![],
        )
        .await
        .unwrap();
    let expected = in_container(&container, "wc -c < ~/Downloads/numbers.txt");
    assert_eq!(fetched[0], json!(200), "{fetched}");
    assert!(
        fetched[1].as_str().unwrap().contains("attachment"),
        "{fetched}"
    );
    assert_eq!(fetched[2], json!(expected.trim().parse::<u64>().unwrap()));
    assert_eq!(fetched[3], json!("1\n2\n3\n4\n"));
    click(&client, "#delete-session").await;
}
