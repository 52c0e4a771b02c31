//! `GET /api/openapi.json`: an OpenAPI 3.1 document of the Developer API, built with utoipa from
//! one table entry per endpoint. Permissions come from `need()`, so the document cannot drift
//! from what the API enforces; the field tables follow sessions.rs and users.rs.
use super::openapi_schemas::{
    component_schemas, null, object, opt, req, with_fields, Field, Ty, ATTRIBUTES_UPDATE,
};
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::LazyLock;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, OneOfBuilder, Ref, Type};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Required,
};

/// Serves the document (built once). Public: it describes the API, it grants nothing.
pub async fn serve() -> impl IntoResponse {
    static JSON: LazyLock<String> =
        LazyLock::new(|| document().to_json().expect("the document serializes"));
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JSON.as_str(),
    )
}

/// What a successful call answers.
enum Reply {
    /// A JSON object with these fields.
    Fields(&'static [Field]),
    /// `{}`.
    Empty,
    /// One of these component schemas.
    OneOf(&'static [&'static str]),
    /// Raw JPEG bytes.
    Jpeg,
}

struct Endpoint {
    name: &'static str,
    tag: &'static str,
    summary: &'static str,
    request: &'static [Field],
    reply: Reply,
    /// Error statuses beyond 400 and 403, which every endpoint can answer.
    errors: &'static [u16],
}

const USER_ID: Field = req(
    "user_id",
    Ty::Id,
    "The user acting, or the session's owner.",
);
const KASM_ID: Field = req("kasm_id", Ty::Id, "The session.");
const TARGET_USER_ID: Field = req(
    "target_user",
    Ty::Object(&[req("user_id", Ty::Id, "")]),
    "The user.",
);
const KASMS: Field = req("kasms", Ty::List(&Ty::Ref("Kasm")), "");
const SESSION_TOKEN: Field = req(
    "session_token",
    Ty::Text,
    "A one-time token that kasm_url redeems; a newer one replaces it.",
);
const KASM_URL: Field = req(
    "kasm_url",
    Ty::Text,
    "A browser path that signs the user in and opens the session.",
);
const IGNORED: &str = "Accepted for compatibility; Berth does not use it.";

const SESSIONS: &str = "Sessions";
const USERS: &str = "Users";

#[rustfmt::skip]
const ENDPOINTS: &[Endpoint] = &[
    Endpoint { name: "request_kasm", tag: SESSIONS, summary: "Start a session of an image for a user",
        request: &[USER_ID, req("image_id", Ty::Id, "The workspace image."),
            opt("enable_sharing", Ty::Bool, "Share the session from the start (share_id is then set)."),
            opt("environment", Ty::Map, "Environment variables for the container: string values; names starting with `BERTH_` are refused."),
            opt("kasm_url", Ty::Text, "A browser workspace's first page (http or https URL)."),
            opt("client_language", Ty::Text, "The container's `LANG`, e.g. `de_DE.UTF-8`."),
            opt("client_timezone", Ty::Text, "The container's `TZ`, e.g. `Europe/Berlin`."),
            opt("persistent_profile_mode", Ty::Text, IGNORED)],
        reply: Reply::Fields(&[KASM_ID, req("status", Ty::Text, "`starting`."),
            null("share_id", Ty::Text, "Null unless enable_sharing."),
            req("user_id", Ty::Id, ""), req("username", Ty::Text, ""), SESSION_TOKEN, KASM_URL]),
        errors: &[404, 429, 503] },
    Endpoint { name: "get_kasm_status", tag: SESSIONS, summary: "A session's status; the session object once it has started",
        request: &[USER_ID, KASM_ID, opt("skip_agent_check", Ty::Bool, IGNORED)],
        reply: Reply::OneOf(&["KasmStarting", "KasmRunning"]), errors: &[404] },
    Endpoint { name: "get_kasms", tag: SESSIONS, summary: "Every live session",
        request: &[], reply: Reply::Fields(&[KASMS, req("current_time", Ty::Date, "")]), errors: &[] },
    Endpoint { name: "get_user_kasms", tag: SESSIONS, summary: "A user's live sessions",
        request: &[USER_ID], reply: Reply::Fields(&[KASMS]), errors: &[] },
    Endpoint { name: "destroy_kasm", tag: SESSIONS, summary: "Delete a session and its container",
        request: &[USER_ID, KASM_ID], reply: Reply::Empty, errors: &[404] },
    Endpoint { name: "keepalive", tag: SESSIONS, summary: "Push a session's expiration forward by the keepalive window",
        request: &[KASM_ID], reply: Reply::Empty, errors: &[404] },
    Endpoint { name: "join_kasm", tag: SESSIONS, summary: "Join a shared session as a view-only viewer",
        request: &[USER_ID, req("share_id", Ty::Text, "The session's share id (`shared_id` is accepted too).")],
        reply: Reply::Fields(&[req("kasm", Ty::Ref("KasmView"), ""), KASM_URL, SESSION_TOKEN,
            req("username", Ty::Text, "The viewer."), req("user_id", Ty::Id, "The viewer.")]),
        errors: &[404] },
    Endpoint { name: "exec_command_kasm", tag: SESSIONS, summary: "Run a command (`sh -c`) in a running session's container",
        request: &[USER_ID, KASM_ID, req("exec_config", Ty::Object(&[
            req("cmd", Ty::Text, "The shell command line."),
            opt("workdir", Ty::Text, "An absolute path."),
            opt("environment", Ty::Map, "Extra environment variables (string values)."),
            opt("privileged", Ty::Bool, "Only false: true is refused (400)."),
            opt("user", Ty::Text, "`name`, `uid`, `name:group` or `uid:gid`; the image's user by default."),
            opt("timeout", Ty::Int, "Seconds, 1 to 300; 30 by default.")]), "")],
        reply: Reply::Fields(&[req("kasm", Ty::Ref("Kasm"), ""), req("current_time", Ty::Date, ""),
            null("exit_code", Ty::Int, "Null when the command timed out. Berth only (Kasm returns no output), as are the fields below."),
            req("stdout", Ty::Text, "At most 1 MiB."), req("stderr", Ty::Text, "At most 1 MiB."),
            req("stdout_truncated", Ty::Bool, ""), req("stderr_truncated", Ty::Bool, ""),
            req("timed_out", Ty::Bool, "")]),
        errors: &[404, 409, 503] },
    Endpoint { name: "get_kasm_screenshot", tag: SESSIONS, summary: "A JPEG screenshot of a running session's desktop",
        request: &[KASM_ID, USER_ID,
            opt("width", Ty::Int, "Largest width in pixels (1 to 65535); 300 when neither width nor height is given."),
            opt("height", Ty::Int, "Largest height in pixels (1 to 65535). The aspect ratio is kept and the picture is never enlarged.")],
        reply: Reply::Jpeg, errors: &[404, 409, 503] },
    Endpoint { name: "pause_kasm", tag: SESSIONS, summary: "Pause a running session",
        request: &[USER_ID, KASM_ID], reply: Reply::Empty, errors: &[404, 503] },
    Endpoint { name: "resume_kasm", tag: SESSIONS, summary: "Resume a paused or stopped session",
        request: &[USER_ID, KASM_ID], reply: Reply::Empty, errors: &[404, 422, 503] },
    Endpoint { name: "stop_kasm", tag: SESSIONS, summary: "Stop a running or paused session's container, keeping the session",
        request: &[USER_ID, KASM_ID], reply: Reply::Empty, errors: &[404, 503] },
    Endpoint { name: "get_images", tag: "Images", summary: "Every workspace image",
        request: &[], reply: Reply::Fields(&[req("images", Ty::List(&Ty::Ref("Image")), "")]), errors: &[] },
    Endpoint { name: "create_user", tag: USERS, summary: "Create a user",
        request: &[req("target_user", Ty::Object(&[req("username", Ty::Text, ""), req("password", Ty::Text, ""),
            opt("first_name", Ty::Text, ""), opt("last_name", Ty::Text, ""), opt("organization", Ty::Text, ""),
            opt("phone", Ty::Text, "Ignored on create; set it with update_user."),
            opt("locked", Ty::Bool, "Ignored on create; set it with update_user."),
            opt("disabled", Ty::Bool, "Ignored on create; set it with update_user.")]), "The new user.")],
        reply: Reply::Fields(&[req("user", Ty::Ref("User"), "")]), errors: &[422] },
    Endpoint { name: "get_user", tag: USERS, summary: "One user, by user_id or username",
        request: &[req("target_user", Ty::Object(&[opt("user_id", Ty::Id, "Wins over username."),
            opt("username", Ty::Text, "Used when user_id is absent; case-insensitive.")]), "")],
        reply: Reply::Fields(&[req("user", Ty::Ref("User"), "")]), errors: &[404] },
    Endpoint { name: "get_users", tag: USERS, summary: "Every user",
        request: &[], reply: Reply::Fields(&[req("users", Ty::List(&Ty::Ref("User")), "")]), errors: &[] },
    Endpoint { name: "update_user", tag: USERS, summary: "Change a user; absent fields keep their value",
        request: &[req("target_user", Ty::Object(&[req("user_id", Ty::Id, ""), opt("password", Ty::Text, ""),
            opt("first_name", Ty::Text, ""), opt("last_name", Ty::Text, ""), opt("phone", Ty::Text, ""),
            opt("organization", Ty::Text, ""),
            opt("locked", Ty::Bool, "Locking also signs the user out."),
            opt("disabled", Ty::Bool, "Disabling also signs the user out.")]), "")],
        reply: Reply::Fields(&[req("user", Ty::Ref("User"), "")]), errors: &[404] },
    Endpoint { name: "delete_user", tag: USERS, summary: "Delete a user; refused (400) while they have sessions unless force",
        request: &[TARGET_USER_ID, opt("force", Ty::Bool, "Destroy the user's sessions first.")],
        reply: Reply::Empty, errors: &[404] },
    Endpoint { name: "logout_user", tag: USERS, summary: "End every browser sign-in of a user",
        request: &[TARGET_USER_ID], reply: Reply::Empty, errors: &[] },
    Endpoint { name: "get_attributes", tag: USERS, summary: "A user's preferences",
        request: &[TARGET_USER_ID],
        reply: Reply::Fields(&[req("user_attributes", Ty::Ref("UserAttributes"), "")]), errors: &[404] },
    Endpoint { name: "update_user_attributes", tag: USERS, summary: "Change a user's preferences; absent keys keep their value",
        request: &[req("target_user_attributes", Ty::Object(ATTRIBUTES_UPDATE), "The user and the keys to change.")],
        reply: Reply::Empty, errors: &[404] },
    Endpoint { name: "add_user_group", tag: USERS, summary: "Add a user to a group",
        request: &[TARGET_USER_ID, req("target_group", Ty::Object(&[req("group_id", Ty::Id, "")]), "")],
        reply: Reply::Empty, errors: &[404] },
    Endpoint { name: "remove_user_group", tag: USERS, summary: "Remove a user from a group",
        request: &[TARGET_USER_ID, req("target_group", Ty::Object(&[req("group_id", Ty::Id, "")]), "")],
        reply: Reply::Empty, errors: &[404] },
];

/// The error responses, as `#/components/responses/<name>`.
const ERRORS: &[(u16, &str, &str)] = &[
    (400, "BadRequest", "Missing or invalid parameters (`Missing Parameters: <field> is missing`), malformed JSON, or a change the target's state does not allow."),
    (403, "Unauthorized", "`Unauthorized`: the key or secret is wrong, expired or revoked, lacks a required permission, or is read-only for a call that changes something."),
    (404, "NotFound", "The session, user, group, image or share does not exist."),
    (409, "NotRunning", "The session is not running."),
    (422, "Conflict", "It conflicts with the current data: the username is taken, or the session changed meanwhile."),
    (429, "TooManySessions", "The user already has the most sessions allowed."),
    (503, "Unavailable", "No agent has capacity for the session, or the session's agent did not answer."),
];

const CONVENTIONS: &str = "Every call is `POST /api/public/<endpoint>` with a JSON body carrying \
`api_key` and `api_key_secret` (made under Admin → Developers) next to the call's own fields. \
IDs are UUIDs rendered as 32 lowercase hex digits (requests may send the dashed form too); dates \
are `YYYY-MM-DD HH:MM:SS.ffffff` in UTC. Every failure has a non-2xx status and a JSON body \
`{\"error_message\": \"...\"}`; permission failures are 403 `Unauthorized`. Each operation names \
the API key permissions it needs.";

/// The whole document.
pub fn document() -> OpenApi {
    let paths = ENDPOINTS
        .iter()
        .fold(PathsBuilder::new(), |paths, endpoint| {
            paths.path(
                format!("/api/public/{}", endpoint.name),
                PathItem::new(HttpMethod::Post, operation(endpoint)),
            )
        });
    let components = component_schemas()
        .into_iter()
        .fold(ComponentsBuilder::new(), |components, (name, schema)| {
            components.schema(name, schema)
        });
    let components = ERRORS
        .iter()
        .fold(components, |components, (_, name, doc)| {
            components.response(*name, json_response(doc, Ref::from_schema_name("Error")))
        });
    let tags = ["Sessions", "Images", "Users"].map(|name| TagBuilder::new().name(name).build());
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Berth Developer API (Kasm-compatible)")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(CONVENTIONS))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .tags(Some(tags))
        .build()
}

fn operation(endpoint: &Endpoint) -> utoipa::openapi::path::Operation {
    let body = [
        req("api_key", Ty::Text, "The API key."),
        req("api_key_secret", Ty::Text, "The API key's secret."),
    ];
    let body = with_fields(object(&body), endpoint.request);
    let success = match &endpoint.reply {
        Reply::Fields(fields) => json_response("Success.", object(fields)),
        Reply::Empty => json_response(
            "Success: `{}`.",
            ObjectBuilder::new().schema_type(Type::Object),
        ),
        Reply::OneOf(names) => json_response(
            "Success.",
            names.iter().fold(OneOfBuilder::new(), |one_of, name| {
                one_of.item(Ref::from_schema_name(*name))
            }),
        ),
        Reply::Jpeg => ResponseBuilder::new()
            .description("The screenshot, JPEG bytes.")
            .content(
                "image/jpeg",
                Content::new(Some(ObjectBuilder::new().schema_type(Type::String).format(
                    Some(utoipa::openapi::SchemaFormat::Custom("binary".into())),
                ))),
            )
            .build(),
    };
    let statuses = [400, 403].iter().chain(endpoint.errors);
    let operation = statuses.fold(
        OperationBuilder::new().response("200", success),
        |operation, status| {
            let (_, name, _) = ERRORS
                .iter()
                .find(|(code, _, _)| code == status)
                .expect("every error status is in ERRORS");
            operation.response(status.to_string(), Ref::from_response_name(*name))
        },
    );
    operation
        .operation_id(Some(endpoint.name))
        .summary(Some(endpoint.summary))
        .description(Some(permissions(endpoint.name)))
        .tag(endpoint.tag)
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", Content::new(Some(body)))
                .build(),
        ))
        .build()
}

fn json_response(
    description: &str,
    schema: impl Into<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
}

/// The permission sentence of an operation, from `need()`.
fn permissions(endpoint: &str) -> String {
    let need = super::need(endpoint).expect("every documented endpoint is in need()");
    let list = need
        .permissions
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let read_only = if need.modifies {
        " A read-only key is refused."
    } else {
        ""
    };
    let noun = if need.permissions.len() == 1 {
        "permission"
    } else {
        "permissions"
    };
    format!("Requires the API key {noun} {list}.{read_only}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn documents_exactly_the_endpoints_need_knows() {
        let documented: BTreeSet<&str> = ENDPOINTS.iter().map(|e| e.name).collect();
        let served: BTreeSet<&str> = super::super::ENDPOINTS.iter().copied().collect();
        assert_eq!(documented, served);
        assert_eq!(
            documented.len(),
            ENDPOINTS.len(),
            "an endpoint is listed twice"
        );
        for name in &documented {
            assert!(
                super::super::need(name).is_some(),
                "{name} is not in need()"
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        let json = serde_json::to_value(document()).unwrap();
        let mut refs = Vec::new();
        collect_refs(&json, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            assert!(
                json.pointer(pointer).is_some(),
                "{reference} does not resolve"
            );
        }
    }

    fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
