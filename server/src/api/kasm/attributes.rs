//! A user's preferences (`get_attributes`, `update_user_attributes`) and group memberships
//! (`add_user_group`, `remove_user_group`).
use super::call::Call;
use super::openapi::NotFound;
use super::params::{present, Flag, Id, Text};
use super::replies::{Attributes, Empty};
use super::users::{TargetUser, UserRef};
use super::{ApiError, Reply};
use app::backend::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// The user's attributes (a default row is made on first use).
async fn attributes(state: &AppState, user_id: Uuid) -> Result<store::users::Attributes, ApiError> {
    store::users::attributes_of(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))
}

/// A user's preferences
#[utoipa::path(post, path = "/api/public/get_attributes", tag = "Users",
    request_body = inline(TargetUser),
    responses((status = 200, description = "Success.", body = Attributes),
        (status = 404, response = NotFound)))]
pub async fn get_attributes(
    State(state): State<AppState>,
    call: Call<TargetUser>,
) -> Reply<Attributes> {
    let user_id = call.request.target_user.user_id.0;
    Ok(Json(Attributes {
        user_attributes: attributes(&state, user_id).await?.into(),
    }))
}

/// update_user_attributes' `target_user_attributes`: absent keys keep their value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttributeChanges {
    user_id: Id,
    #[schema(value_type = Option<String>)]
    ssh_public_key: Option<Text>,
    #[schema(value_type = Option<bool>)]
    show_tips: Option<Flag>,
    /// E.g. `Light`.
    #[schema(value_type = Option<String>)]
    theme: Option<Text>,
    #[schema(value_type = Option<String>)]
    preferred_language: Option<Text>,
    #[schema(value_type = Option<String>)]
    preferred_timezone: Option<Text>,
    #[schema(value_type = Option<bool>)]
    toggle_control_panel: Option<Flag>,
    /// A workspace image id; null or empty for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$")]
    default_image: Option<Value>,
    #[schema(value_type = Option<bool>)]
    auto_login_kasm: Option<Flag>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserAttributes {
    /// The user and the keys to change.
    #[schema(inline)]
    target_user_attributes: AttributeChanges,
}

/// The image a `default_image` names: none for null, empty or not a string.
fn default_image(value: Value) -> Result<Option<Uuid>, ApiError> {
    match value {
        Value::String(text) if !text.is_empty() => Uuid::parse_str(&text).map(Some).map_err(|_| {
            ApiError::Invalid("Invalid Parameters: default_image is not a valid id".into())
        }),
        _ => Ok(None),
    }
}

/// Change a user's preferences; absent keys keep their value
#[utoipa::path(post, path = "/api/public/update_user_attributes", tag = "Users",
    request_body = inline(UpdateUserAttributes),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound)))]
pub async fn update_user_attributes(
    State(state): State<AppState>,
    call: Call<UpdateUserAttributes>,
) -> Reply<Empty> {
    let changes = call.request.target_user_attributes;
    let current = attributes(&state, changes.user_id.0).await?;
    let text = |field: Option<Text>, old: String| field.map_or(old, |Text(text)| text);
    let flag = |field: Option<Flag>, old: bool| field.map_or(old, |Flag(on)| on);
    let default_image = match changes.default_image {
        Some(value) => default_image(value)?,
        None => current.default_image,
    };
    let updated = store::users::Attributes {
        ssh_public_key: text(changes.ssh_public_key, current.ssh_public_key),
        show_tips: flag(changes.show_tips, current.show_tips),
        theme: text(changes.theme, current.theme),
        preferred_language: text(changes.preferred_language, current.preferred_language),
        preferred_timezone: text(changes.preferred_timezone, current.preferred_timezone),
        toggle_control_panel: flag(changes.toggle_control_panel, current.toggle_control_panel),
        default_image,
        auto_login_kasm: flag(changes.auto_login_kasm, current.auto_login_kasm),
        ..current
    };
    store::users::set_attributes(&state.db, &updated).await?;
    Ok(Json(Empty {}))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupRef {
    group_id: Id,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserAndGroup {
    /// The user.
    #[schema(inline)]
    target_user: UserRef,
    /// The group.
    #[schema(inline)]
    target_group: GroupRef,
}

impl UserAndGroup {
    /// The user's and the group's ids, both checked to exist.
    async fn existing(&self, state: &AppState) -> Result<(Uuid, Uuid), ApiError> {
        let (user_id, group_id) = (self.target_user.user_id.0, self.target_group.group_id.0);
        if !store::groups::user_and_group_exist(&state.db, user_id, group_id).await? {
            return Err(ApiError::NotFound("User or group not found".into()));
        }
        Ok((user_id, group_id))
    }
}

/// Add a user to a group
#[utoipa::path(post, path = "/api/public/add_user_group", tag = "Users",
    request_body = inline(UserAndGroup),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound)))]
pub async fn add_user_group(
    State(state): State<AppState>,
    call: Call<UserAndGroup>,
) -> Reply<Empty> {
    let (user_id, group_id) = call.request.existing(&state).await?;
    store::groups::add_member(&state.db, user_id, group_id).await?;
    Ok(Json(Empty {}))
}

/// Remove a user from a group
#[utoipa::path(post, path = "/api/public/remove_user_group", tag = "Users",
    request_body = inline(UserAndGroup),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound)))]
pub async fn remove_user_group(
    State(state): State<AppState>,
    call: Call<UserAndGroup>,
) -> Reply<Empty> {
    let (user_id, group_id) = call.request.existing(&state).await?;
    if group_id == store::groups::ALL_USERS {
        return Err(ApiError::Invalid(
            "Every user belongs to All Users: it cannot be left".into(),
        ));
    }
    store::groups::remove_member(&state.db, user_id, group_id).await?;
    Ok(Json(Empty {}))
}
