//! The clipboard settings enforced in the proxy with a real session: with
//! `allow_kasm_clipboard_up` off, text the browser puts on the clipboard never reaches the
//! desktop (the relay drops ClientCutText), with it on, it does.
use crate::groups::{group_with, set};
use crate::sharing::{desktop, signed_in};
use crate::support::{redis_url, spawn_app_with_prefix, TestApp};
use berth::rfb::{Session, KEY_ALT, KEY_CONTROL, KEY_RETURN};
use serde_json::json;
use sqlx::PgPool;
use std::process::Command;
use std::time::Duration;
use uuid::Uuid;

const KEY_SHIFT: u32 = 0xffe1;
const KEY_INSERT: u32 = 0xff63;

/// ClientCutText carrying `text`.
fn cut_text(text: &str) -> Vec<u8> {
    let mut message = vec![6, 0, 0, 0];
    message.extend((text.len() as u32).to_be_bytes());
    message.extend(text.as_bytes());
    message
}

fn file_text(container: &str, path: &str) -> String {
    let output = Command::new("docker")
        .args(["exec", container, "cat", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Puts `text` on the clipboard from the "browser", then pastes it in a new terminal into
/// `path` (Shift+Insert pastes the primary selection, which Xvnc sets with the clipboard).
/// Whether the file holds the text once the terminal ran (the terminal is opened up to three
/// times, as it may open late under load; the caller checks the file exists).
async fn paste_reaches(session: &mut Session, container: &str, text: &str, path: &str) -> bool {
    session.send_raw(cut_text(text)).await.unwrap();
    for _ in 0..3 {
        session
            .chord(&[KEY_CONTROL, KEY_ALT], 't' as u32)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        session
            .type_text(&format!("cat >> {path}\n"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The primary selection (Shift+Insert), then the clipboard (lxterminal's Ctrl+Shift+V).
        session.chord(&[KEY_SHIFT], KEY_INSERT).await.unwrap();
        session
            .chord(&[KEY_CONTROL, KEY_SHIFT], 'V' as u32)
            .await
            .unwrap();
        // The terminal asks for the selection and types it when it comes: wait for it.
        tokio::time::sleep(Duration::from_secs(1)).await;
        session.key(KEY_RETURN, true).await.unwrap();
        session.key(KEY_RETURN, false).await.unwrap();
        session.chord(&[KEY_CONTROL], 'd' as u32).await.unwrap();
        for _ in 0..12 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if file_exists(container, path) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                return file_text(container, path).contains(text);
            }
        }
    }
    false
}

fn file_exists(container: &str, path: &str) -> bool {
    Command::new("docker")
        .args(["exec", container, "test", "-e", path])
        .status()
        .unwrap()
        .success()
}

/// An app with an agent, the user ann and a running Desktop session of hers (and its
/// container).
pub async fn session_of_ann(
    db: PgPool,
) -> (TestApp, tokio::task::JoinHandle<()>, Uuid, Uuid, String) {
    berth::manager::images::register_defaults(&db)
        .await
        .unwrap();
    let app =
        spawn_app_with_prefix(db, &redis_url(), &format!("berth-test:{}:", Uuid::new_v4())).await;
    let agent = crate::docker_sessions::start_test_agent(&app).await;
    let ann = app.create_user("ann", "password-123", "user").await;
    let image: Uuid =
        sqlx::query_scalar("SELECT image_id FROM images WHERE friendly_name = 'Desktop'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let session_id = app.manager.request_session(ann, image).await.unwrap();
    crate::docker_sessions::wait_running(&app.db, session_id).await;
    let container: String =
        sqlx::query_scalar("SELECT container_id FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    (app, agent, ann, session_id, container)
}

/// Types `text` into the desktop's editor (opened from a terminal the first time), selects
/// all and copies it: the desktop's clipboard changes, which Xvnc tells its clients.
async fn copy_on_desktop(session: &mut Session, text: &str, open_editor: bool) {
    if open_editor {
        session
            .chord(&[KEY_CONTROL, KEY_ALT], 't' as u32)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        session.type_text("mousepad\n").await.unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    session.type_text(text).await.unwrap();
    session.chord(&[KEY_CONTROL], 'a' as u32).await.unwrap();
    session.chord(&[KEY_CONTROL], 'c' as u32).await.unwrap();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn clipboard_down_switched_off_is_dropped_by_the_proxy(db: PgPool) {
    let (app, agent, ann, session_id, _) = session_of_ann(db).await;
    let group = group_with(
        &app,
        "No copy",
        &[ann],
        json!({"allow_kasm_clipboard_down": false}),
    )
    .await;
    let (cookie, _) = signed_in(&app, "ann").await;

    let mut off = desktop(&app, session_id, &cookie).await.unwrap();
    copy_on_desktop(&mut off, "berth-down-off ", true).await;
    assert_eq!(off.cut_text_within(Duration::from_secs(8)).await, None);
    drop(off);

    // Allowed: a new connection receives what is copied (so the check above could fail).
    set(&app, group, json!({"allow_kasm_clipboard_down": null})).await;
    let mut on = desktop(&app, session_id, &cookie).await.unwrap();
    copy_on_desktop(&mut on, "berth-down-on", false).await;
    let copied = on.cut_text_within(Duration::from_secs(8)).await;
    assert!(
        copied.as_deref().is_some_and(|text| text.contains("berth-down-on")),
        "the desktop's clipboard did not reach the browser with allow_kasm_clipboard_down on: {copied:?}"
    );
    app.manager
        .destroy_session(session_id, "test over")
        .await
        .unwrap();
    agent.abort();
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn clipboard_up_switched_off_is_dropped_by_the_proxy(db: PgPool) {
    let (app, agent, ann, session_id, container) = session_of_ann(db).await;
    let group = group_with(
        &app,
        "No paste",
        &[ann],
        json!({"allow_kasm_clipboard_up": false}),
    )
    .await;
    let (cookie, _) = signed_in(&app, "ann").await;

    let mut off = desktop(&app, session_id, &cookie).await.unwrap();
    assert!(
        !paste_reaches(&mut off, &container, "berth-clip-off", "/tmp/clip-off").await,
        "the clipboard reached the desktop with allow_kasm_clipboard_up off"
    );
    assert!(
        file_exists(&container, "/tmp/clip-off"),
        "the terminal never ran the paste"
    );
    drop(off);

    // Allowed: a new connection carries the clipboard (so the check above could fail).
    set(&app, group, json!({"allow_kasm_clipboard_up": null})).await;
    let mut on = desktop(&app, session_id, &cookie).await.unwrap();
    assert!(
        paste_reaches(&mut on, &container, "berth-clip-on", "/tmp/clip-on").await,
        "the clipboard did not reach the desktop with allow_kasm_clipboard_up on: {:?}",
        file_text(&container, "/tmp/clip-on")
    );
    app.manager
        .destroy_session(session_id, "test over")
        .await
        .unwrap();
    agent.abort();
}
