//! Admin → Groups' server functions: administrators only; create (priorities unique), edit,
//! delete (refused for the system groups), members by username, settings checked against
//! their types, workspaces, and a user's effective settings with where each came from.
use crate::support::{error_json, insert_image, message_of, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use store::groups::{ADMINISTRATORS, ALL_USERS};

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn administrators_manage_groups_members_settings_and_workspaces(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (user, ann) = app.signed_in("ann", "user").await;
    let id = ALL_USERS.to_string();
    app.assert_admin_only(
        &user,
        &[
            ("admin/list_groups", vec![]),
            (
                "admin/save_group",
                vec![
                    ("group_id", ""),
                    ("name", "x"),
                    ("description", ""),
                    ("priority", ""),
                ],
            ),
            ("admin/delete_group", vec![("group_id", &id)]),
            ("admin/group", vec![("group_id", &id)]),
            (
                "admin/group_member",
                vec![("group_id", &id), ("username", "ann"), ("member", "true")],
            ),
            (
                "admin/group_setting",
                vec![
                    ("group_id", &id),
                    ("name", "allow_kasm_audio"),
                    ("value", "false"),
                ],
            ),
            ("admin/user_policy", vec![("user_id", &ann.to_string())]),
        ],
    )
    .await;

    // The two system groups exist; the root administrator is in Administrators.
    let list: Value = app
        .call(&admin, "admin/list_groups", &[])
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Administrators", "All Users"]);
    assert_eq!(list[0]["members"], 1);
    assert_eq!(list[1]["members"], 2);

    // Create: the priority is checked and unique.
    let save = |name: &'static str, priority: &'static str| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.call(
                &admin,
                "admin/save_group",
                &[
                    ("group_id", ""),
                    ("name", name),
                    ("description", "d"),
                    ("priority", priority),
                ],
            )
            .await
        }
    };
    let created = save("Engineers", "10").await;
    assert_eq!(created.status(), StatusCode::OK);
    let eng: String = created.json().await.unwrap();
    for (priority, status, needle) in [
        ("10", StatusCode::UNPROCESSABLE_ENTITY, "priority"),
        ("-3", StatusCode::BAD_REQUEST, "whole number"),
    ] {
        let response = save("Other", priority).await;
        assert_eq!(response.status(), status);
        assert!(message_of(&error_json(response).await).contains(needle));
    }

    // System groups are not deleted.
    for system in [ALL_USERS, ADMINISTRATORS] {
        let response = app
            .call(
                &admin,
                "admin/delete_group",
                &[("group_id", &system.to_string())],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(message_of(&error_json(response).await).contains("system group"));
    }

    // Members by username; settings checked; a workspace assigned.
    let member = app
        .call(
            &admin,
            "admin/group_member",
            &[("group_id", &eng), ("username", "ann"), ("member", "true")],
        )
        .await;
    assert_eq!(member.status(), StatusCode::OK);
    let nobody = app
        .call(
            &admin,
            "admin/group_member",
            &[
                ("group_id", &eng),
                ("username", "nobody"),
                ("member", "true"),
            ],
        )
        .await;
    assert_eq!(nobody.status(), StatusCode::BAD_REQUEST);
    let bad = app
        .call(
            &admin,
            "admin/group_setting",
            &[
                ("group_id", &eng),
                ("name", "max_kasms_per_user"),
                ("value", "lots"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(message_of(&error_json(bad).await).contains("whole number"));
    let unknown = app
        .call(
            &admin,
            "admin/group_setting",
            &[
                ("group_id", &eng),
                ("name", "allow_everything"),
                ("value", "true"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let good = app
        .call(
            &admin,
            "admin/group_setting",
            &[
                ("group_id", &eng),
                ("name", "max_kasms_per_user"),
                ("value", "4"),
            ],
        )
        .await;
    assert_eq!(good.status(), StatusCode::OK);
    let image = insert_image(&app.db, "Tools").await.to_string();
    let assigned = app
        .call(
            &admin,
            "admin/group_image",
            &[
                ("group_id", &eng),
                ("image_id", &image),
                ("assigned", "true"),
            ],
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::OK);

    let detail: Value = app
        .call(&admin, "admin/group", &[("group_id", &eng)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["members"][0]["username"], "ann");
    let setting = detail["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "max_kasms_per_user")
        .unwrap();
    assert_eq!(setting["value"], "4");
    let tools = detail["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["friendly_name"] == "Tools")
        .unwrap();
    assert_eq!(tools["assigned"], true);

    // Ann's effective settings name where each came from.
    let policy: Value = app
        .call(
            &admin,
            "admin/user_policy",
            &[("user_id", &ann.to_string())],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        policy["groups"],
        serde_json::json!(["Engineers", "All Users"])
    );
    let row = |name: &str| {
        policy["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            row("max_kasms_per_user")["value"].clone(),
            row("max_kasms_per_user")["source"].clone()
        ),
        ("4".into(), "Engineers".into())
    );
    assert_eq!(row("allow_kasm_audio")["source"], "default");

    // Deleted: its members lose its settings.
    let deleted = app
        .call(&admin, "admin/delete_group", &[("group_id", &eng)])
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let policy = store::group_access::policy_of(&app.db, ann).await.unwrap();
    assert_eq!(policy.number("max_kasms_per_user"), 2);
}
