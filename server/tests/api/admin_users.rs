use crate::support::{error_json, message_of, spawn_app};
use reqwest::{header, StatusCode};
use sqlx::PgPool;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admin_pages_and_functions_are_closed_to_others(db: PgPool) {
    let app = spawn_app(db).await;
    let (user, _) = app.signed_in("ann", "user").await;
    let anonymous = app.client();

    let page = user.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Only administrators"),
        "the 403 page should explain"
    );
    assert!(
        !html.contains("data-username"),
        "user rows leaked into the 403 page"
    );

    let anonymous_page = anonymous.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(anonymous_page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous_page.headers()[header::LOCATION],
        "/login?next=%2Fadmin%2Fusers"
    );

    app.assert_admin_only(
        &user,
        &[
            ("admin/list_users", vec![("search", "")]),
            (
                "admin/create_user",
                vec![
                    ("username", "x1"),
                    ("password", "password-1"),
                    ("first_name", ""),
                    ("last_name", ""),
                    ("organization", ""),
                    ("role", "admin"),
                ],
            ),
            (
                "admin/delete_user",
                vec![("user_id", "00000000-0000-0000-0000-000000000000")],
            ),
        ],
    )
    .await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 1, "a refused call created a user");
}

fn create_form<'a>(username: &'a str, password: &'a str, role: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", username),
        ("password", password),
        ("first_name", "Bo"),
        ("last_name", "Lee"),
        ("organization", "Acme"),
        ("role", role),
    ]
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn admins_create_search_edit_and_delete_users(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;

    let created = app
        .call(
            &admin,
            "admin/create_user",
            &create_form("bo", "password-123", "user"),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let bo_id: String = created.json().await.unwrap();

    let listed: serde_json::Value = app
        .call(&admin, "admin/list_users", &[("search", "acm")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["username"], "bo");
    assert_eq!(listed[0]["organization"], "Acme");

    let edited = app
        .call(
            &admin,
            "admin/update_user",
            &[
                ("user_id", bo_id.as_str()),
                ("first_name", "Bob"),
                ("last_name", "Lee"),
                ("organization", "Initech"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let listed: serde_json::Value = app
        .call(&admin, "admin/list_users", &[("search", "bo")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["first_name"], "Bob");
    assert_eq!(listed[0]["role"], "admin");

    let deleted = app
        .call(&admin, "admin/delete_user", &[("user_id", bo_id.as_str())])
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let again = app
        .call(&admin, "admin/delete_user", &[("user_id", bo_id.as_str())])
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY audit_id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    for action in ["create_user", "update_user", "delete_user"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing from the audit log: {actions:?}"
        );
    }
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn bad_input_gets_a_clear_error_and_changes_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    app.call(
        &admin,
        "admin/create_user",
        &create_form("bo", "password-123", "user"),
    )
    .await;

    let cases = [
        (
            create_form("Bo", "password-123", "user"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
            "already taken",
        ),
        (
            create_form("b o", "password-123", "user"),
            StatusCode::BAD_REQUEST,
            "username",
            "letters, digits",
        ),
        (
            create_form("carl", "short", "user"),
            StatusCode::BAD_REQUEST,
            "password",
            "at least 8",
        ),
        (
            create_form("carl", "password-123", "root"),
            StatusCode::BAD_REQUEST,
            "role",
            "admin or user",
        ),
    ];
    for (form, status, field, text) in cases {
        let response = app.call(&admin, "admin/create_user", &form).await;
        assert_eq!(response.status(), status, "{form:?}");
        let error = error_json(response).await;
        assert!(
            error.to_string().contains(&format!("\"{field}\"")),
            "field {field} not named: {error}"
        );
        assert!(message_of(&error).contains(text), "{error}");
    }
    let bad_id = app
        .call(&admin, "admin/delete_user", &[("user_id", "nope")])
        .await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);

    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 2, "only root and bo exist");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn disabling_and_password_resets_end_sign_ins(db: PgPool) {
    let app = spawn_app(db).await;
    let (admin, admin_id) = app.signed_in("root", "admin").await;
    let (user, user_id) = app.signed_in("ann", "user").await;
    let user_id = user_id.to_string();
    assert_eq!(
        user.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::OK
    );

    let disabled = app
        .call(
            &admin,
            "admin/set_user_disabled",
            &[("user_id", user_id.as_str()), ("disabled", "true")],
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(
        user.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.login(&app.client(), "ann", "password-123")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    app.call(
        &admin,
        "admin/set_user_disabled",
        &[("user_id", user_id.as_str()), ("disabled", "false")],
    )
    .await;
    let again = app.client();
    assert_eq!(
        app.login(&again, "ann", "password-123").await.status(),
        StatusCode::OK
    );

    let reset = app
        .call(
            &admin,
            "admin/reset_password",
            &[
                ("user_id", user_id.as_str()),
                ("new_password", "fresh-password"),
            ],
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(
        again.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.login(&app.client(), "ann", "fresh-password")
            .await
            .status(),
        StatusCode::OK
    );

    // Admins cannot lock themselves out.
    let admin_id = admin_id.to_string();
    let own = app
        .call(
            &admin,
            "admin/set_user_disabled",
            &[("user_id", admin_id.as_str()), ("disabled", "true")],
        )
        .await;
    assert_eq!(own.status(), StatusCode::BAD_REQUEST);
    let own = app
        .call(
            &admin,
            "admin/delete_user",
            &[("user_id", admin_id.as_str())],
        )
        .await;
    assert_eq!(own.status(), StatusCode::BAD_REQUEST);
}
