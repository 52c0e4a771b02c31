//! GET /api/openapi.json: the Developer API's OpenAPI document, served publicly, complete, and
//! well-formed (parsed by the oas3 crate, every reference resolved).
use crate::support::spawn_app;
use oas3::spec::{ObjectOrReference, Schema, Spec};
use reqwest::{header, StatusCode};
use serde_json::Value;
use sqlx::PgPool;

const ENDPOINTS: [&str; 27] = [
    "request_kasm",
    "get_kasm_status",
    "get_kasms",
    "get_user_kasms",
    "destroy_kasm",
    "keepalive",
    "join_kasm",
    "exec_command_kasm",
    "get_kasm_screenshot",
    "pause_kasm",
    "resume_kasm",
    "stop_kasm",
    "get_images",
    "create_user",
    "get_user",
    "get_users",
    "update_user",
    "delete_user",
    "logout_user",
    "get_attributes",
    "update_user_attributes",
    "add_user_group",
    "remove_user_group",
    "get_groups",
    "create_group",
    "update_group",
    "delete_group",
];

#[sqlx::test(migrator = "berth::startup::MIGRATOR")]
async fn openapi_document_describes_every_endpoint(db: PgPool) {
    let app = spawn_app(db).await;
    // No cookies, no key: the document is public.
    let response = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let cache = response.headers()[header::CACHE_CONTROL].to_str().unwrap();
    assert!(cache.contains("max-age"), "{cache}");
    let text = response.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();

    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["info"]["title"],
        "Berth Developer API (Kasm-compatible)"
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), ENDPOINTS.len(), "{:?}", paths.keys());
    for name in ENDPOINTS {
        let operation = &doc["paths"][format!("/api/public/{name}")]["post"];
        assert!(operation.is_object(), "{name}: no POST operation");
        let body = &operation["requestBody"]["content"]["application/json"]["schema"];
        let required: Vec<&str> = body["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no required fields"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            required.contains(&"api_key") && required.contains(&"api_key_secret"),
            "{name}: {required:?}"
        );
        assert!(operation["responses"]["200"].is_object(), "{name}: no 200");
        assert!(operation["responses"]["403"].is_object(), "{name}: no 403");
        let description = operation["description"].as_str().unwrap_or_default();
        assert!(description.contains("permission"), "{name}: {description}");
    }
    let screenshot = &doc["paths"]["/api/public/get_kasm_screenshot"]["post"]["responses"]["200"];
    assert!(screenshot["content"]["image/jpeg"].is_object());
    let exec = &doc["paths"]["/api/public/exec_command_kasm"]["post"];
    let config =
        &exec["requestBody"]["content"]["application/json"]["schema"]["properties"]["exec_config"];
    assert_eq!(config["required"], serde_json::json!(["cmd"]));
    let kasm = &doc["components"]["schemas"]["Kasm"]["properties"];
    for field in ["image", "port_map", "client_settings"] {
        assert!(kasm[field].is_object(), "Kasm.{field}");
    }

    // A validator's view: the document parses as OpenAPI 3.1, and every request body, response
    // and schema reference resolves.
    let spec = oas3::from_json(&text).expect("a well-formed OpenAPI 3.1 document");
    spec.validate_version()
        .expect("a supported OpenAPI version");
    let mut operations = 0;
    for (path, _, operation) in spec.operations() {
        operations += 1;
        let body = operation
            .request_body(&spec)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .unwrap_or_else(|| panic!("{path}: no request body"));
        for media in body.content.values() {
            walk(&spec, media.schema.as_ref().unwrap(), &path, 0);
        }
        for (status, response) in operation.responses.iter().flatten() {
            let response = response
                .resolve(&spec)
                .unwrap_or_else(|e| panic!("{path} {status}: {e}"));
            for media in response.content.values() {
                walk(&spec, media.schema.as_ref().unwrap(), &path, 0);
            }
        }
    }
    assert_eq!(operations, ENDPOINTS.len());
}

/// Resolves a schema and everything below it.
fn walk(spec: &Spec, schema: &Schema, at: &str, depth: usize) {
    assert!(depth < 16, "{at}: schemas nest too deep");
    let Schema::Object(object) = schema.resolve(spec).unwrap_or_else(|e| panic!("{at}: {e}"))
    else {
        return;
    };
    let ObjectOrReference::Object(object) = *object else {
        panic!("{at}: a reference resolved to a reference");
    };
    for (name, property) in &object.properties {
        walk(spec, property, &format!("{at}.{name}"), depth + 1);
    }
    if let Some(item) = &object.items {
        walk(spec, item, &format!("{at}[]"), depth + 1);
    }
    for choice in &object.one_of {
        walk(spec, choice, &format!("{at}|"), depth + 1);
    }
}
