//! The vocabulary of the OpenAPI document (`openapi.rs`): compact field tables and the shared
//! component schemas (Kasm, Image, User, UserAttributes, Group, Error), turned into utoipa
//! schemas. The tables mirror what sessions.rs and users.rs read and write.
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Ref, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;

/// The type of a field.
pub enum Ty {
    /// A UUID: 32 lowercase hex digits in responses; requests may send the dashed form too.
    Id,
    Text,
    /// `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
    Date,
    Bool,
    Int,
    Number,
    /// A free-form JSON object.
    Map,
    /// A nested object with its own fields.
    Object(&'static [Field]),
    /// A shared component schema, by name.
    Ref(&'static str),
    List(&'static Ty),
    /// A string that is one of the given values.
    OneOfText(&'static [&'static str]),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Must be sent (requests) / always present (responses).
    Required,
    /// May be left out.
    Optional,
    /// Always present, may be null (responses).
    Nullable,
}

pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub presence: Presence,
    pub doc: &'static str,
}

pub const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        presence: Presence::Required,
        doc,
    }
}

pub const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        presence: Presence::Optional,
        doc,
    }
}

pub const fn null(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        presence: Presence::Nullable,
        doc,
    }
}

const ID_NOTE: &str = "ID: 32 lowercase hex digits (requests may also send the dashed UUID form).";
const DATE_NOTE: &str = "Date and time in UTC, `YYYY-MM-DD HH:MM:SS.ffffff`.";

fn described(builder: ObjectBuilder, doc: &str) -> ObjectBuilder {
    builder.description((!doc.is_empty()).then(|| doc.to_owned()))
}

fn scalar(kind: Type, nullable: bool) -> ObjectBuilder {
    let kind: SchemaType = if nullable {
        [kind, Type::Null].into_iter().collect()
    } else {
        kind.into()
    };
    ObjectBuilder::new().schema_type(kind)
}

/// The schema of one value of type `ty`.
pub fn schema(ty: &Ty, nullable: bool, doc: &str) -> RefOr<Schema> {
    let doc_or = |note: &str| {
        if doc.is_empty() {
            note.to_owned()
        } else {
            format!("{doc} {note}")
        }
    };
    match ty {
        Ty::Id => scalar(Type::String, nullable)
            .description(Some(doc_or(ID_NOTE)))
            .examples(["0f4e6f1c9a3b4d2e8c7b6a5f4e3d2c1b"])
            .into(),
        Ty::Date => scalar(Type::String, nullable)
            .description(Some(doc_or(DATE_NOTE)))
            .examples(["2026-11-28 14:03:07.512345"])
            .into(),
        Ty::Text => described(scalar(Type::String, nullable), doc).into(),
        Ty::Bool => described(scalar(Type::Boolean, nullable), doc).into(),
        Ty::Int => described(scalar(Type::Integer, nullable), doc).into(),
        Ty::Number => described(scalar(Type::Number, nullable), doc).into(),
        Ty::OneOfText(values) => described(scalar(Type::String, nullable), doc)
            .enum_values(Some(values.iter().copied()))
            .into(),
        Ty::Map => described(scalar(Type::Object, nullable), doc)
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into(),
        Ty::Object(fields) => described(object(fields), doc).into(),
        Ty::Ref(name) => {
            let mut reference = Ref::from_schema_name(*name);
            reference.description = doc.to_owned();
            if nullable {
                OneOfBuilder::new()
                    .item(reference)
                    .item(scalar(Type::Null, false))
                    .into()
            } else {
                reference.into()
            }
        }
        Ty::List(item) => ArrayBuilder::new()
            .items(schema(item, false, ""))
            .description((!doc.is_empty()).then(|| doc.to_owned()))
            .into(),
    }
}

/// An object with the given fields; required and nullable ones are listed as required.
pub fn object(fields: &[Field]) -> ObjectBuilder {
    with_fields(ObjectBuilder::new().schema_type(Type::Object), fields)
}

/// Adds fields to an object schema.
pub fn with_fields(builder: ObjectBuilder, fields: &[Field]) -> ObjectBuilder {
    fields.iter().fold(builder, |builder, field| {
        let builder = builder.property(
            field.name,
            schema(&field.ty, field.presence == Presence::Nullable, field.doc),
        );
        if field.presence == Presence::Optional {
            builder
        } else {
            builder.required(field.name)
        }
    })
}

/// The shared component schemas, by name.
const COMPONENTS: &[(&str, &str, &[Field])] = &[
    ("Kasm", "A session (\"kasm\").", KASM),
    ("Image", "A workspace image.", IMAGE),
    ("User", "A user.", USER),
    ("Group", "A group a user belongs to.", GROUP),
    ("UserAttributes", "A user's preferences.", USER_ATTRIBUTES),
    (
        "KasmStarting",
        "get_kasm_status while the session is requested, provisioning or starting.",
        KASM_STARTING,
    ),
    (
        "KasmRunning",
        "get_kasm_status once the session is past starting (running, paused, ...).",
        KASM_RUNNING,
    ),
    (
        "Error",
        "Every failure: a non-2xx status and this body.",
        &[req(
            "error_message",
            Ty::Text,
            "What went wrong, e.g. `Unauthorized` or `Missing Parameters: user_id is missing`.",
        )],
    ),
];

/// Every status a listed (not deleted) session can have: `SessionStatus` less `deleted`
/// (a unit test keeps the two in step).
pub const OPERATIONAL_STATUS: &[&str] = &[
    "requested",
    "provisioning",
    "starting",
    "running",
    "paused",
    "stopped",
    "deleting",
];

const KASM: &[Field] = &[
    req("kasm_id", Ty::Id, ""),
    req("user_id", Ty::Id, "The owner."),
    req("image_id", Ty::Id, ""),
    req(
        "image",
        Ty::Object(&[
            req("image_id", Ty::Id, ""),
            req("name", Ty::Text, "The container image reference."),
            req("friendly_name", Ty::Text, ""),
            req("image_src", Ty::Text, "Thumbnail URL."),
        ]),
        "The session's workspace image.",
    ),
    req("operational_status", Ty::OneOfText(OPERATIONAL_STATUS), ""),
    req("operational_message", Ty::Text, ""),
    req("operational_progress", Ty::Int, "0-100."),
    null("container_id", Ty::Text, ""),
    null("server_id", Ty::Id, "The agent (Docker host) running it."),
    req("hostname", Ty::Text, ""),
    req(
        "port_map",
        Ty::Object(&[req(
            "vnc",
            Ty::Object(&[
                null("port", Ty::Int, ""),
                req(
                    "path",
                    Ty::Text,
                    "`desktop/<kasm_id>`; clients append `/websockify` for the stream.",
                ),
            ]),
            "",
        )]),
        "",
    ),
    null("share_id", Ty::Text, "Set while the session is shared."),
    req("cores", Ty::Number, ""),
    req("memory", Ty::Int, "Bytes."),
    null("start_date", Ty::Date, ""),
    null("keepalive_date", Ty::Date, ""),
    req("expiration_date", Ty::Date, ""),
    req("created_date", Ty::Date, ""),
    req(
        "client_settings",
        Ty::Object(&[
            req("allow_kasm_sharing", Ty::Bool, ""),
            req("allow_kasm_clipboard_up", Ty::Bool, ""),
            req("allow_kasm_clipboard_down", Ty::Bool, ""),
            null("idle_disconnect", Ty::Int, "Minutes; null for never."),
        ]),
        "",
    ),
];

const IMAGE: &[Field] = &[
    req("image_id", Ty::Id, ""),
    req("name", Ty::Text, "The container image reference."),
    req("friendly_name", Ty::Text, ""),
    req("description", Ty::Text, ""),
    req("image_src", Ty::Text, "Thumbnail URL."),
    req("enabled", Ty::Bool, ""),
    req(
        "available",
        Ty::Bool,
        "True once every online agent has the image.",
    ),
    req("cores", Ty::Number, ""),
    req("memory", Ty::Int, "Bytes."),
    req("categories", Ty::List(&Ty::Text), ""),
    req("restrict_to_server", Ty::Bool, ""),
    null(
        "server_id",
        Ty::Id,
        "The agent it is restricted to, if restrict_to_server.",
    ),
    req("run_config", Ty::Map, "Passed to the container runtime."),
    req("exec_config", Ty::Map, ""),
    req("volume_mappings", Ty::Map, ""),
];

const GROUP: &[Field] = &[req("group_id", Ty::Id, ""), req("name", Ty::Text, "")];

const USER: &[Field] = &[
    req("user_id", Ty::Id, ""),
    req("username", Ty::Text, ""),
    req("first_name", Ty::Text, ""),
    req("last_name", Ty::Text, ""),
    req("phone", Ty::Text, ""),
    req("organization", Ty::Text, ""),
    req("locked", Ty::Bool, ""),
    req("disabled", Ty::Bool, ""),
    req("created", Ty::Date, ""),
    null("last_session", Ty::Date, ""),
    null("password_set_date", Ty::Date, ""),
    req("groups", Ty::List(&Ty::Ref("Group")), ""),
    req("kasms", Ty::List(&Ty::Ref("Kasm")), ""),
];

/// update_user_attributes' `target_user_attributes`: absent keys keep their value.
pub const ATTRIBUTES_UPDATE: &[Field] = &[
    req("user_id", Ty::Id, ""),
    opt("ssh_public_key", Ty::Text, ""),
    opt("show_tips", Ty::Bool, ""),
    opt("theme", Ty::Text, "E.g. `Light`."),
    opt("preferred_language", Ty::Text, ""),
    opt("preferred_timezone", Ty::Text, ""),
    opt("toggle_control_panel", Ty::Bool, ""),
    opt(
        "default_image",
        Ty::Id,
        "A workspace image; null or empty for none.",
    ),
    opt("auto_login_kasm", Ty::Bool, ""),
];

const USER_ATTRIBUTES: &[Field] = &[
    req("user_attributes_id", Ty::Id, ""),
    req("user_id", Ty::Id, ""),
    req("ssh_public_key", Ty::Text, ""),
    req("show_tips", Ty::Bool, ""),
    req("theme", Ty::Text, ""),
    req("preferred_language", Ty::Text, ""),
    req("preferred_timezone", Ty::Text, ""),
    req("toggle_control_panel", Ty::Bool, ""),
    null("default_image", Ty::Id, ""),
    req("auto_login_kasm", Ty::Bool, ""),
];

const KASM_STARTING: &[Field] = &[
    req("kasm_id", Ty::Id, ""),
    req(
        "status",
        Ty::OneOfText(&["requested", "provisioning", "starting"]),
        "",
    ),
    req(
        "operational_status",
        Ty::OneOfText(&["requested", "provisioning", "starting"]),
        "",
    ),
    req("operational_message", Ty::Text, ""),
    req("operational_progress", Ty::Int, "0-100."),
];

const KASM_RUNNING: &[Field] = &[
    req("kasm", Ty::Ref("Kasm"), ""),
    req(
        "kasm_url",
        Ty::Text,
        "A browser path that signs the user in and opens the session.",
    ),
    req(
        "session_token",
        Ty::Text,
        "A one-time token that kasm_url redeems; a newer one replaces it.",
    ),
    req("current_time", Ty::Date, ""),
];

/// Every component schema: the table above, and `KasmView` (join_kasm's view of a Kasm).
pub fn component_schemas() -> Vec<(&'static str, ObjectBuilder)> {
    let mut schemas: Vec<_> = COMPONENTS
        .iter()
        .map(|(name, doc, fields)| (*name, object(fields).description(Some(*doc))))
        .collect();
    let shown = KASM
        .iter()
        .filter(|field| !super::sessions::HIDDEN_FROM_VIEWERS.contains(&field.name))
        .fold(
            ObjectBuilder::new().schema_type(Type::Object),
            |builder, field| with_fields(builder, std::slice::from_ref(field)),
        );
    let view = with_fields(shown, &[req("view_only", Ty::Bool, "Always true.")])
        .description(Some("A shared session as a viewer sees it (join_kasm): a Kasm without where it runs or whose it is."));
    schemas.push(("KasmView", view));
    schemas
}

#[cfg(test)]
mod tests {
    use app::model::SessionStatus;

    #[test]
    fn the_documented_statuses_are_the_session_states_of_listed_sessions() {
        let live: Vec<&str> = SessionStatus::ALL
            .into_iter()
            .filter(|status| *status != SessionStatus::Deleted)
            .map(SessionStatus::as_str)
            .collect();
        assert_eq!(super::OPERATIONAL_STATUS, live.as_slice());
    }
}
