use crate::support::{error_json, message_of, spawn_app};
use reqwest::{header, StatusCode};
use sqlx::PgPool;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn signing_in_sets_an_http_only_lax_cookie_that_opens_the_dashboard(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    let client = app.client();

    let anonymous = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()[header::LOCATION], "/login?next=%2F");

    let response = app.login(&client, "ANN", "password-123").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("berth_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http must not get a Secure cookie: {cookie}"
    );

    let dashboard = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert!(dashboard.text().await.unwrap().contains("Workspaces"));

    // Only a hash of the token is stored.
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("berth_session=")
        .to_owned();
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sign_ins WHERE token_hash = convert_to($1, 'UTF8')",
    )
    .bind(&token)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 0, "the raw token is stored");
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_cookie_is_secure_behind_https(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    let response = app
        .client()
        .post(app.url("/rpc/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("username", "ann"), ("password", "password-123")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn a_wrong_password_is_refused_without_a_session(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    let client = app.client();
    let response = app.login(&client, "ann", "wrong-password").await;
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let (status, message) = (response.status(), message_of(&error_json(response).await));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
    assert!(message.contains("Wrong username or password"), "{message}");
    // An unknown user gets the very same answer.
    let response = app.login(&client, "nobody", "wrong-password").await;
    let (status, unknown) = (response.status(), message_of(&error_json(response).await));
    assert_eq!((status, unknown), (StatusCode::BAD_REQUEST, message));
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_ins")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn five_failures_lock_the_username_even_for_the_right_password(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    app.create_user("bob", "password-123", "user").await;
    let client = app.client();
    for _ in 0..5 {
        assert_eq!(
            app.login(&client, "ann", "nope-nope").await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    let locked = app.login(&client, "ann", "password-123").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().get(header::SET_COOKIE).is_none());
    let message = message_of(&error_json(locked).await);
    assert!(
        message.contains("Too many failed sign-in attempts") && message.contains("15 minutes"),
        "{message}"
    );
    // Other usernames are unaffected.
    assert_eq!(
        app.login(&client, "bob", "password-123").await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn cross_site_state_changes_are_refused(db: PgPool) {
    let app = spawn_app(db).await;
    app.create_user("ann", "password-123", "user").await;
    let client = app.client();
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = client
            .post(app.url("/rpc/login"))
            .header(name, value)
            .form(&[("username", "ann"), ("password", "password-123")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("Cross-site request refused"));
    }
    // The same request from Berth's own origin goes through.
    let response = client
        .post(app.url("/rpc/login"))
        .header("origin", format!("http://{}", app.addr))
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "ann"), ("password", "password-123")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn signing_out_ends_the_session_on_the_server(db: PgPool) {
    let app = spawn_app(db).await;
    let (client, _) = app.signed_in("ann", "user").await;
    let stolen: String = sqlx::query_scalar("SELECT encode(token_hash, 'hex') FROM sign_ins")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!stolen.is_empty());
    assert_eq!(
        app.call(&client, "logout", &[]).await.status(),
        StatusCode::OK
    );
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_ins")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(
        client.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn expired_sessions_no_longer_sign_in(db: PgPool) {
    let app = spawn_app(db).await;
    let (client, _) = app.signed_in("ann", "user").await;
    assert_eq!(
        client.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::OK
    );
    sqlx::query("UPDATE sign_ins SET expires = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        client.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app::backend::auth::purge_expired_sign_ins(&app.db)
            .await
            .unwrap(),
        1
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn users_change_their_own_password(db: PgPool) {
    let app = spawn_app(db).await;
    let (client, _) = app.signed_in("ann", "user").await;
    let other_device = app.client();
    assert_eq!(
        app.login(&other_device, "ann", "password-123")
            .await
            .status(),
        StatusCode::OK
    );

    let wrong = app
        .call(
            &client,
            "change_password",
            &[
                ("current_password", "nope"),
                ("new_password", "new-password-1"),
                ("confirm_password", "new-password-1"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(error_json(wrong)
        .await
        .to_string()
        .contains("current_password"));

    let short = app
        .call(
            &client,
            "change_password",
            &[
                ("current_password", "password-123"),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);

    let done = app
        .call(
            &client,
            "change_password",
            &[
                ("current_password", "password-123"),
                ("new_password", "new-password-1"),
                ("confirm_password", "new-password-1"),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    // This sign-in continues, the other one ended; the new password works.
    assert_eq!(
        client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        other_device
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.login(&app.client(), "ann", "password-123")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.login(&app.client(), "ann", "new-password-1")
            .await
            .status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn the_first_start_creates_one_admin(db: PgPool) {
    use app::backend::users::{ensure_first_admin, FirstAdmin};
    let generated = match ensure_first_admin(&db, None).await.unwrap() {
        FirstAdmin::Generated(password) => password,
        other => panic!("expected a generated password, got {other:?}"),
    };
    assert_eq!(
        ensure_first_admin(&db, Some("another-password".into()))
            .await
            .unwrap(),
        FirstAdmin::Existing
    );
    let app = spawn_app(db).await;
    let client = app.client();
    assert_eq!(
        app.login(&client, "admin", &generated).await.status(),
        StatusCode::OK
    );
    let list = app
        .call(&client, "admin/list_users", &[("search", "")])
        .await;
    assert_eq!(list.status(), StatusCode::OK);
    let users: serde_json::Value = list.json().await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["role"], "admin");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
}
