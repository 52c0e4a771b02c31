//! Admin → Staging through its server functions: administrators only, each bad field named
//! (400), a second config for the same image and server refused (422), the page listed with counts.
use crate::support::{error_json, insert_image, spawn_app};
use reqwest::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn staging_configs_are_validated_listed_and_admin_only(db: PgPool) {
    let app = spawn_app(db.clone()).await;
    let (admin, _) = app.signed_in("root", "admin").await;
    let (user, _) = app.signed_in("ann", "user").await;
    let image = insert_image(&db, "Staged").await.to_string();
    let form = |desired: &str, expiry: &str, image: &str| {
        vec![
            ("staging_config_id", String::new()),
            ("image_id", image.to_owned()),
            ("server_id", String::new()),
            ("desired", desired.to_owned()),
            ("expiry", expiry.to_owned()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call(admin, "admin/save_staging", &form).await
        }
    };

    for (bad, field) in [
        (form("-1", "600", &image), "desired"),
        (form("many", "600", &image), "desired"),
        (form("2", "5", &image), "expiry"),
        (form("2", "600", "not-an-id"), "image_id"),
        (form("2", "600", &Uuid::new_v4().to_string()), "image_id"),
    ] {
        let response = post(bad).await;
        let status = response.status();
        let body = error_json(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert!(
            body.to_string().contains(&format!("\"field\":\"{field}\"")),
            "{body}"
        );
    }
    let created = post(form("2", "30m", &image)).await;
    assert_eq!(created.status(), StatusCode::OK);
    let id: String = created.json().await.unwrap();
    let again = post(form("1", "600", &image)).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = error_json(again).await.to_string();
    assert!(body.contains("\"field\":\"image_id\""), "{body}");

    let listed: serde_json::Value = app
        .call(&admin, "admin/list_staging", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["staging_config_id"], id.as_str());
    assert_eq!(listed[0]["desired"], 2);
    assert_eq!(listed[0]["expiry_secs"], 1800);
    assert_eq!(listed[0]["image_name"], "Staged");
    for count in ["ready", "starting", "used"] {
        assert!(listed[0][count].is_i64(), "{count}");
    }

    app.assert_admin_only(
        &user,
        &[
            ("admin/list_staging", vec![]),
            (
                "admin/delete_staging",
                vec![("staging_config_id", id.as_str())],
            ),
        ],
    )
    .await;
    let deleted = app
        .call(
            &admin,
            "admin/delete_staging",
            &[("staging_config_id", id.as_str())],
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(store::staging::list(&db).await.unwrap().is_empty());
}
