//! File transfer from the session's control panel in Chromium: a file picked in the panel is
//! uploaded into the desktop's `~/Uploads` (checked in the container with `docker exec`), and
//! a file made in the desktop appears in the panel's `~/Downloads` list and downloads intact.
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

#[tokio::test]
async fn files_go_up_from_the_panel_and_come_down_from_the_desktop() {
    let client = browser().await;
    sign_in(&client, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    let session_id = launch(&client, "Desktop").await;
    let container = container_of(&session_id);
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
    let uploaded = format!(
        "return (document.querySelector('#files-message')?.textContent || '').includes({});",
        json!(format!("Uploaded {name}"))
    );
    wait_until(&client, "the upload to finish", &uploaded).await;
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
