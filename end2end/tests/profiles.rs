//! Persistent profiles in Chromium: an administrator gives a workspace a profile location in
//! Admin → Images (a bad one is refused on the form, naming the problem) and a group allows
//! profiles; the member's dashboard offers the profile choice, a file written in one session
//! is in the next, and Admin → Users deletes the profile once no session uses it.
use end2end::*;
use fantoccini::Client;
use serde_json::json;
use std::process::Command;

/// Runs `script` in the container as its user: its standard output.
fn in_container(container: &str, script: &str) -> String {
    let output = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("docker");
    assert!(output.status.success(), "{script}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Submits the image's storage form with the profile location; answers the text `shown`
/// (CSS inside the form) once it shows.
async fn save_location(admin: &Client, location: &str, shown: &str) -> String {
    fill(
        admin,
        "#image-storage-form input[name=persistent_profile_path]",
        location,
    )
    .await;
    click(admin, "#image-storage-form button[type=submit]").await;
    let script = format!(
        "const e = document.querySelector('#image-storage-form {shown}'); return e ? e.textContent : false;"
    );
    for _ in 0..120 {
        if let Some(text) = admin.execute(&script, vec![]).await.unwrap().as_str() {
            return text.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let page = admin
        .execute("return document.querySelector('main')?.innerText;", vec![])
        .await
        .unwrap();
    panic!("the storage form never showed {shown}; the page: {page}");
}

/// The member's session of the workspace ends (as its owner deletes it).
async fn end_session(member: &Client, session_id: &str) {
    let ended = post(member, "sessions/delete", json!({"session_id": session_id})).await;
    assert_eq!(ended[0], 200, "{ended}");
    let gone = Command::new("sh")
        .args(["-c", &format!("for i in $(seq 120); do [ -z \"$(docker ps -aq --filter label=berth.kasm_id={session_id})\" ] && exit 0; sleep 0.5; done; exit 1")])
        .status()
        .unwrap();
    assert!(gone.success(), "the container of {session_id} stayed");
}

#[tokio::test]
async fn a_profile_set_in_admin_images_keeps_a_users_files_until_the_admin_deletes_it() {
    let id = unique();
    let (member_name, workspace) = (format!("pm{id}"), format!("Kept {id}"));
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    create_user_as_admin(&admin, &member_name, "e2e-password-1").await;
    let image_id = register_workspace(&admin, &workspace).await;
    let group_id = create_group(&admin, &format!("Profiles {id}")).await;
    add_member_and_set(&admin, &member_name, "allow_persistent_profile", "true").await;

    // Admin → Images: the workspace's profile location, a bad one refused by name.
    open(&admin, "/admin/images").await;
    click(&admin, &format!("tr[data-name='{workspace}'] button.edit")).await;
    let refused = save_location(&admin, "../{username}", ".error").await;
    assert!(refused.contains(".."), "{refused}");
    let saved = save_location(&admin, "{username}/{image_id}", "#image-storage-saved").await;
    assert!(saved.contains("Saved."), "{saved}");

    // The member's first session: the dashboard offers the profile; a file is written.
    let member = browser().await;
    sign_in(&member, &member_name, "e2e-password-1").await;
    let choice = format!("li.tile[data-name='{workspace}'] .profile-mode select");
    wait_until(
        &member,
        "the profile choice",
        &format!("return !!document.querySelector(\"{choice}\");"),
    )
    .await;
    let first = launch(&member, &workspace).await;
    let container = container_of(&first);
    let home = in_container(&container, "echo \"$HOME\"");
    in_container(&container, "echo kept > \"$HOME/kept.txt\"");
    end_session(&member, &first).await;

    // The next session has it.
    open(&member, "/").await;
    let second = launch(&member, &workspace).await;
    assert!(
        file_exists(&container_of(&second), &format!("{home}/kept.txt")),
        "the profile did not come back"
    );
    end_session(&member, &second).await;

    // Admin → Users → the member: the profile is listed, and deleted.
    let users = post(&admin, "admin/list_users", json!({"search": member_name})).await;
    let list: serde_json::Value = serde_json::from_str(users[1].as_str().unwrap()).unwrap();
    open(
        &admin,
        &format!("/admin/users/{}", list[0]["user_id"].as_str().unwrap()),
    )
    .await;
    wait_until(
        &admin,
        "the member's profile",
        &format!(
            "return document.querySelector('#user-profiles table')?.textContent.includes({});",
            json!(member_name)
        ),
    )
    .await;
    admin
        .execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    click(&admin, "#delete-profiles").await;
    wait_until(
        &admin,
        "the profile's deletion",
        "return document.querySelector('#profiles-deleted')?.textContent.includes('1 profile');",
    )
    .await;

    // The third session starts from an empty home.
    open(&member, "/").await;
    let third = launch(&member, &workspace).await;
    assert!(!file_exists(
        &container_of(&third),
        &format!("{home}/kept.txt")
    ));
    end_session(&member, &third).await;

    delete_workspace(&admin, &image_id).await;
    let deleted = post(&admin, "admin/delete_group", json!({"group_id": group_id})).await;
    assert_eq!(deleted[0], 200, "{deleted}");
    member.close().await.unwrap();
    admin.close().await.unwrap();
}
