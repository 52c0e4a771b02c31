//! What the Developer API answers, in Kasm's field names and formats: ids as 32 lowercase hex
//! digits ([`HexId`]), dates as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC ([`Date`]). Each type is
//! both what is sent and (through `ToSchema`) what the OpenAPI document says is sent.
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// A UUID in Kasm's response form: 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexId(pub Uuid);

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.simple())
    }
}

impl PartialSchema for HexId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9a-f]{32}$"))
            .description(Some("A UUID as 32 lowercase hex digits."))
            .examples(["0f4e6f1c9a3b4d2e8c7b6a5f4e3d2c1b"])
            .into()
    }
}

impl ToSchema for HexId {
    fn name() -> Cow<'static, str> {
        "Id".into()
    }
}

/// A date in Kasm's form (UTC), which Python's `datetime.fromisoformat` parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub DateTime<Utc>);

impl Date {
    pub fn now() -> Self {
        Date(Utc::now())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.format("%Y-%m-%d %H:%M:%S%.6f"))
    }
}

impl PartialSchema for Date {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(
                "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}$",
            ))
            .description(Some("Date and time in UTC, `YYYY-MM-DD HH:MM:SS.ffffff`."))
            .examples(["2026-11-28 14:03:07.512345"])
            .into()
    }
}

impl ToSchema for Date {}

/// `{}`: what a call that changes something answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

/// Every failure: a non-2xx status and this body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Error {
    /// What went wrong, e.g. `Unauthorized` or `Missing Parameters: user_id is missing`.
    pub error_message: String,
}

/// A workspace image.
#[derive(Debug, Serialize, ToSchema)]
pub struct Image {
    pub image_id: HexId,
    /// The container image reference.
    pub name: String,
    pub friendly_name: String,
    pub description: String,
    /// Thumbnail URL.
    pub image_src: String,
    pub enabled: bool,
    /// True once every online agent has the image.
    pub available: bool,
    pub cores: f64,
    /// Bytes.
    pub memory: i64,
    pub categories: Vec<String>,
    pub restrict_to_server: bool,
    /// The agent it is restricted to, if restrict_to_server.
    pub server_id: Option<HexId>,
    /// Passed to the container runtime.
    #[schema(value_type = Object)]
    pub run_config: serde_json::Value,
    #[schema(value_type = Object)]
    pub exec_config: serde_json::Value,
    #[schema(value_type = Object)]
    pub volume_mappings: serde_json::Value,
    /// Where the image's persistent profiles live, with `{username}`, `{user_id}` and
    /// `{image_id}` filled in per user; empty when it has none.
    pub persistent_profile_path: String,
}

impl From<store::images::ListedImage> for Image {
    fn from(row: store::images::ListedImage) -> Self {
        Image {
            image_id: HexId(row.image_id),
            name: row.name,
            friendly_name: row.friendly_name,
            description: row.description,
            image_src: row.image_src,
            enabled: row.enabled,
            available: row.available,
            cores: row.cores,
            memory: row.memory,
            categories: row.categories,
            restrict_to_server: row.restrict_to_server,
            server_id: row.server_id.map(HexId),
            run_config: row.run_config,
            exec_config: row.exec_config,
            volume_mappings: row.volume_mappings,
            persistent_profile_path: row.persistent_profile_path,
        }
    }
}

/// `get_images`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Images {
    pub images: Vec<Image>,
}

/// A group a user belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    pub group_id: HexId,
    pub name: String,
}

/// A user, with their groups and live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub user_id: HexId,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub organization: String,
    pub locked: bool,
    pub disabled: bool,
    pub created: Date,
    pub last_session: Option<Date>,
    pub password_set_date: Option<Date>,
    pub groups: Vec<Group>,
    pub kasms: Vec<super::kasm_object::Kasm>,
}

/// `get_user`, `create_user`, `update_user`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OneUser {
    pub user: User,
}

/// `get_users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Users {
    pub users: Vec<User>,
}

/// A user's preferences.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAttributes {
    pub user_attributes_id: HexId,
    pub user_id: HexId,
    pub ssh_public_key: String,
    pub show_tips: bool,
    /// E.g. `Light`.
    pub theme: String,
    pub preferred_language: String,
    pub preferred_timezone: String,
    pub toggle_control_panel: bool,
    pub default_image: Option<HexId>,
    pub auto_login_kasm: bool,
}

impl From<store::users::Attributes> for UserAttributes {
    fn from(row: store::users::Attributes) -> Self {
        UserAttributes {
            user_attributes_id: HexId(row.user_attributes_id),
            user_id: HexId(row.user_id),
            ssh_public_key: row.ssh_public_key,
            show_tips: row.show_tips,
            theme: row.theme,
            preferred_language: row.preferred_language,
            preferred_timezone: row.preferred_timezone,
            toggle_control_panel: row.toggle_control_panel,
            default_image: row.default_image.map(HexId),
            auto_login_kasm: row.auto_login_kasm,
        }
    }
}

/// `get_attributes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attributes {
    pub user_attributes: UserAttributes,
}
