//! Persistent profiles and volume mappings in real session containers: a profile outlives its
//! session, `reset` empties it, no other user sees it, one session at a time holds it, groups
//! decide whether there is one, hostile usernames and mappings outside the agent's roots are
//! refused.
use crate::docker_sessions::{
    agent_config, image_id, unique, wait_for, wait_online_with_images, wait_running,
};
use crate::groups::group_with;
use crate::support::{api_call, api_key, error_json, message_of, spawn_app, TestApp};
use berth::agent::storage::StorageConfig;
use berth::manager::LaunchOptions;
use berth_model::{ControlError, ProfileMode};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::path::PathBuf;
use uuid::Uuid;

/// A scratch folder for the agent's profile root and volume roots, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An app, an agent whose profiles live in a scratch folder (volume root: scratch/volumes),
/// and the Desktop image with a profile location.
async fn setup(db: PgPool) -> (TestApp, Scratch, Uuid, tokio::task::JoinHandle<()>) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app = spawn_app(db).await;
    let scratch = Scratch(std::env::temp_dir().join(unique("berth-profiles")));
    std::fs::create_dir_all(scratch.0.join("volumes/team")).unwrap();
    std::fs::create_dir_all(scratch.0.join("elsewhere")).unwrap();
    std::fs::write(scratch.0.join("volumes/team/readme.txt"), "shared\n").unwrap();
    let name = unique("agent");
    let mut config = agent_config(&app, &name).await;
    config.storage = StorageConfig {
        profile_root: scratch.0.join("profiles"),
        volume_roots: vec![scratch.0.join("volumes")],
        transfer_root: Some(scratch.0.join("transfers")),
    };
    let agent = tokio::spawn(async move { berth::agent::run(config).await.unwrap() });
    wait_online_with_images(&app, &name).await;
    let desktop = image_id(&app.db, "Desktop").await;
    set_storage(&app, desktop, "{username}/{image_id}", json!({})).await;
    (app, scratch, desktop, agent)
}

async fn set_storage(app: &TestApp, image: Uuid, template: &str, mappings: serde_json::Value) {
    let storage = store::profiles::ImageStorage {
        persistent_profile_path: template.into(),
        volume_mappings: mappings,
    };
    store::profiles::set_image_storage(&app.db, image, &storage)
        .await
        .unwrap();
}

async fn launch(
    app: &TestApp,
    user: Uuid,
    image: Uuid,
    mode: ProfileMode,
) -> Result<Uuid, ControlError> {
    let options = LaunchOptions {
        profile_mode: mode,
        ..LaunchOptions::default()
    };
    app.manager.request_session_with(user, image, options).await
}

async fn running(app: &TestApp, user: Uuid, image: Uuid, mode: ProfileMode) -> Uuid {
    let session = launch(app, user, image, mode).await.unwrap();
    wait_running(&app.db, session).await;
    session
}

async fn destroy(app: &TestApp, session: Uuid) {
    app.manager
        .destroy_session(session, "Deleted.")
        .await
        .unwrap();
    wait_for("the session to be deleted", 60, || async {
        let (status, _) = crate::docker_sessions::state_of(&app.db, session).await;
        (status == "deleted").then_some(())
    })
    .await;
}

/// Runs `command` as the session's user in its container: (exit success, stdout + stderr).
async fn exec(app: &TestApp, session: Uuid, command: &str) -> (bool, String) {
    let container: String =
        sqlx::query_scalar("SELECT container_id FROM sessions WHERE session_id = $1")
            .bind(session)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let output = tokio::process::Command::new("docker")
        .args(["exec", &container, "sh", "-c", command])
        .output()
        .await
        .expect("docker CLI");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

async fn user_in_profile_group(app: &TestApp, username: &str, allowed: bool) -> Uuid {
    let user = app.create_user(username, "password-123", "user").await;
    group_with(
        app,
        &unique("profiles"),
        &[user],
        json!({"allow_persistent_profile": allowed}),
    )
    .await;
    user
}

async fn delete_profiles(app: &TestApp, admin: &reqwest::Client, user: Uuid) -> reqwest::Response {
    let user = user.to_string();
    app.call(
        admin,
        "admin/delete_user_profiles",
        &[("user_id", user.as_str())],
    )
    .await
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_profile_outlives_its_session_and_is_its_users_alone(db: PgPool) {
    let (app, scratch, desktop, agent) = setup(db).await;
    let kim = user_in_profile_group(&app, "kim", true).await;
    let lee = user_in_profile_group(&app, "lee", true).await;

    let first = running(&app, kim, desktop, ProfileMode::Enabled).await;
    let (wrote, output) = exec(
        &app,
        first,
        "echo kept-across-sessions > ~/notes.txt && id -u && stat -c %u ~",
    )
    .await;
    assert!(wrote, "{output}");
    assert_eq!(
        output.split_whitespace().collect::<Vec<_>>(),
        ["1000", "1000"]
    );
    let folder = scratch.0.join(format!("profiles/kim/{desktop}"));
    assert!(
        folder.join("notes.txt").exists(),
        "the home is not the profile folder {}",
        folder.display()
    );

    // One session at a time holds a profile: the refusal names the session that has it.
    let second = launch(&app, kim, desktop, ProfileMode::Enabled)
        .await
        .unwrap_err();
    assert!(matches!(second, ControlError::Conflict(_)), "{second:?}");
    assert!(second.to_string().contains(&first.to_string()), "{second}");

    // Another user's session never sees it.
    let other = running(&app, lee, desktop, ProfileMode::Enabled).await;
    let (found, listing) = exec(&app, other, "cat ~/notes.txt; ls -a ~; ls /home").await;
    assert!(
        !found || !listing.contains("kept-across-sessions"),
        "{listing}"
    );
    assert!(!listing.contains("kept-across-sessions"), "{listing}");
    let (wrote, output) = exec(&app, other, "echo mine > ~/lee.txt").await;
    assert!(wrote, "{output}");
    destroy(&app, other).await;

    destroy(&app, first).await;
    let again = running(&app, kim, desktop, ProfileMode::Enabled).await;
    let (read, text) = exec(&app, again, "cat ~/notes.txt").await;
    assert!(read, "{text}");
    assert_eq!(text.trim(), "kept-across-sessions");
    // Admin → Users cannot delete a profile a session uses.
    let (admin, _) = app.signed_in("root", "admin").await;
    let busy = delete_profiles(&app, &admin, kim).await;
    // A conflict, as the web app answers them (422), naming the session.
    assert_eq!(busy.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message_of(&error_json(busy).await).contains(&again.to_string()));
    assert!(folder.join("notes.txt").exists());
    destroy(&app, again).await;

    // Reset through the Developer API's request_kasm (persistent_profile_mode, Kasm's names).
    let key = api_key(
        &app,
        &[
            "User",
            "Users Auth Session",
            "Sessions View",
            "Sessions Modify",
        ],
        false,
    )
    .await;
    let request = |mode: &str| json!({"user_id": kim.simple().to_string(), "image_id": desktop.simple().to_string(), "persistent_profile_mode": mode});
    let (status, reply) = api_call(&app, "request_kasm", &key, request("Sometimes")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert!(
        reply.to_string().contains("persistent_profile_mode"),
        "{reply}"
    );
    let (status, reply) = api_call(&app, "request_kasm", &key, request("Reset")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let reset = Uuid::parse_str(reply["kasm_id"].as_str().unwrap()).unwrap();
    wait_running(&app.db, reset).await;
    let (read, text) = exec(&app, reset, "cat ~/notes.txt").await;
    assert!(!read, "reset kept the profile: {text}");
    destroy(&app, reset).await;

    // Once no session uses them, the admin deletes them on the agent's host.
    let deleted = delete_profiles(&app, &admin, kim).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(!folder.exists(), "the profile folder is still there");
    let lee_folder = scratch.0.join(format!("profiles/lee/{desktop}"));
    assert!(lee_folder.exists());

    // A deleted user's profile goes with them: a new user of the same name starts afresh.
    let removed = app
        .call(
            &admin,
            "admin/delete_user",
            &[("user_id", &lee.to_string())],
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    wait_for("the deleted user's profile to go", 60, || async {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM profiles WHERE user_id = $1")
            .bind(lee)
            .fetch_one(&app.db)
            .await
            .unwrap();
        (rows == 0 && !lee_folder.exists()).then_some(())
    })
    .await;
    let new_lee = user_in_profile_group(&app, "lee", true).await;
    let fresh = running(&app, new_lee, desktop, ProfileMode::Enabled).await;
    let (_, listing) = exec(&app, fresh, "ls -a ~").await;
    assert!(!listing.contains("lee.txt"), "{listing}");
    destroy(&app, fresh).await;
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn groups_decide_and_mappings_stay_inside_the_agents_roots(db: PgPool) {
    let (app, scratch, desktop, agent) = setup(db).await;
    let team = scratch.0.join("volumes/team").display().to_string();
    set_storage(
        &app,
        desktop,
        "{username}/{image_id}",
        json!({&team: {"bind": "/mnt/team", "mode": "ro"}}),
    )
    .await;

    // allow_persistent_profile off: no profile, the image's home; the mapping read-only.
    let max = user_in_profile_group(&app, "max", false).await;
    let session = running(&app, max, desktop, ProfileMode::Enabled).await;
    let (read, text) = exec(&app, session, "cat /mnt/team/readme.txt").await;
    assert!(read && text.contains("shared"), "{text}");
    let (wrote, text) = exec(&app, session, "touch /mnt/team/new").await;
    assert!(!wrote, "a read-only mapping was written: {text}");
    let (_, mounts) = exec(&app, session, "cat /proc/mounts").await;
    assert!(
        !mounts.contains(" /home/berth "),
        "a profile was mounted without allow_persistent_profile: {mounts}"
    );
    assert!(!scratch.0.join("profiles/max").exists());
    destroy(&app, session).await;

    // A mapping outside the agent's roots (here through a symlink inside one) fails the launch
    // by name.
    let escape = scratch.0.join("volumes/escape");
    std::os::unix::fs::symlink(scratch.0.join("elsewhere"), &escape).unwrap();
    let escape = escape.display().to_string();
    set_storage(
        &app,
        desktop,
        "",
        json!({&escape: {"bind": "/mnt/x", "mode": "rw"}}),
    )
    .await;
    let refused = launch(&app, max, desktop, ProfileMode::Enabled)
        .await
        .unwrap();
    let message = wait_for("the launch to fail", 60, || async {
        let (status, message) = crate::docker_sessions::state_of(&app.db, refused).await;
        (status == "deleted").then_some(message)
    })
    .await;
    assert!(
        message.contains(&escape) && message.contains("not under"),
        "{message}"
    );

    // A username that would leave the profile root is refused before anything is made.
    set_storage(&app, desktop, "{username}/{image_id}", json!({})).await;
    let hostile = user_in_profile_group(&app, "..", true).await;
    let error = launch(&app, hostile, desktop, ProfileMode::Enabled)
        .await
        .unwrap_err();
    assert!(matches!(error, ControlError::Invalid { .. }), "{error:?}");
    assert!(!scratch
        .0
        .join("profiles")
        .join(desktop.to_string())
        .exists());
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn storage_settings_are_checked_when_saved(db: PgPool) {
    let (app, scratch, desktop, agent) = setup(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let image = desktop.to_string();
    let save = |template: &'static str, mappings: String| {
        let (app, admin, image) = (&app, admin.clone(), image.clone());
        async move {
            let form = [
                ("image_id", image.as_str()),
                ("persistent_profile_path", template),
                ("volume_mappings", mappings.as_str()),
            ];
            app.call(&admin, "admin/save_image_storage", &form).await
        }
    };
    let inside = scratch.0.join("volumes/team").display().to_string();
    let outside = scratch.0.join("elsewhere").display().to_string();
    let mapping = |host: &str, bind: &str| json!({host: {"bind": bind, "mode": "ro"}}).to_string();
    assert_eq!(
        save("{user_id}/{image_id}", mapping(&inside, "/mnt/team"))
            .await
            .status(),
        StatusCode::OK
    );
    let stored = store::profiles::image_storage(&app.db, desktop)
        .await
        .unwrap();
    assert_eq!(stored.persistent_profile_path, "{user_id}/{image_id}");
    // Integrators see both in the Developer API's image object.
    let key = api_key(&app, &["Images View"], true).await;
    let (status, listed) = api_call(&app, "get_images", &key, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["image_id"] == desktop.simple().to_string())
        .cloned()
        .unwrap();
    assert_eq!(listed["persistent_profile_path"], "{user_id}/{image_id}");
    assert_eq!(listed["volume_mappings"][&inside]["bind"], "/mnt/team");
    for (template, mappings, names) in [
        ("{user_id}", mapping(&outside, "/mnt/x"), outside.as_str()),
        ("{user_id}", mapping("/srv/../etc", "/mnt/x"), "/srv/../etc"),
        ("{user_id}", mapping(&inside, "/etc"), "/etc"),
        ("/mnt/{username}", String::new(), "relative"),
        ("../{username}", String::new(), "no '..'"),
        ("shared", String::new(), "{username} or {user_id}"),
    ] {
        let refused = save(template, mappings.clone()).await;
        assert_eq!(
            refused.status(),
            StatusCode::BAD_REQUEST,
            "{template} {mappings}"
        );
        let message = message_of(&error_json(refused).await);
        assert!(message.contains(names), "{template} {mappings}: {message}");
    }
    assert_eq!(
        store::profiles::image_storage(&app.db, desktop)
            .await
            .unwrap(),
        stored
    );

    // A group's volume_mapping is held to the same roots.
    let group = group_with(&app, "mappers", &[], json!({}))
        .await
        .to_string();
    let set = |value: String| {
        let (app, admin, group) = (&app, admin.clone(), group.clone());
        async move {
            let form = [
                ("group_id", group.as_str()),
                ("name", "volume_mapping"),
                ("value", value.as_str()),
            ];
            app.call(&admin, "admin/group_setting", &form).await
        }
    };
    let refused = set(mapping(&outside, "/mnt/x")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(message_of(&error_json(refused).await).contains(&outside));
    assert_eq!(
        set(mapping(&inside, "/mnt/team")).await.status(),
        StatusCode::OK
    );
    agent.abort();
}
