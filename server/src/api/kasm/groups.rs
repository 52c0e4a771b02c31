//! Group endpoints, Berth's own in Kasm's style (Kasm's Developer API documents none):
//! `get_groups` (Groups View), `create_group` (Groups Create), `update_group` (Groups
//! Modify; a system group also needs Groups Modify System) and `delete_group` (Groups
//! Delete; system groups are never deleted). The checks are Admin → Groups' own.
use super::call::Call;
use super::control::NoFields;
use super::openapi::{NotFound, StateConflict};
use super::params::{Id, Required, Text};
use super::replies::{Empty, HexId};
use super::{ApiError, Reply};
use app::backend::groups::{self, GroupInput};
use app::backend::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The permission that lets a key change a system group (All Users, Administrators).
pub const MODIFY_SYSTEM: &str = "Groups Modify System";

/// A group as the Developer API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupObject {
    pub group_id: HexId,
    pub name: String,
    pub description: String,
    /// Lower wins when several of a user's groups set a setting.
    pub priority: i32,
    pub is_system: bool,
    /// Members (for All Users: every user).
    pub members: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Groups {
    pub groups: Vec<GroupObject>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OneGroup {
    pub group: GroupObject,
}

/// A group's fields as a call gives them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupFields {
    name: Required,
    description: Option<Text>,
    /// A whole number from 1 to 1000000, unique; absent: the next free one (new groups) or
    /// unchanged.
    #[schema(value_type = Option<i64>)]
    priority: Option<Value>,
}

impl GroupFields {
    /// The priority as the form's text (a number or a numeric string; anything else is
    /// given on, to be refused by name).
    fn priority(&self) -> String {
        match &self.priority {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }

    fn input<'a>(&'a self, priority: &'a str) -> GroupInput<'a> {
        GroupInput {
            name: &self.name.0,
            description: self.description.as_ref().map_or("", |text| text.0.as_str()),
            priority,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateGroup {
    #[schema(inline)]
    target_group: GroupFields,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupChanges {
    group_id: Id,
    #[serde(flatten)]
    #[schema(inline)]
    fields: GroupFields,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateGroup {
    #[schema(inline)]
    target_group: GroupChanges,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupRef {
    group_id: Id,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TargetGroup {
    #[schema(inline)]
    target_group: GroupRef,
}

fn object(group: app::model::GroupRow) -> GroupObject {
    GroupObject {
        group_id: HexId(group.group_id),
        name: group.name,
        description: group.description,
        priority: group.priority,
        is_system: group.is_system,
        members: group.members,
    }
}

async fn group_object(state: &AppState, group_id: uuid::Uuid) -> Result<GroupObject, ApiError> {
    groups::list(&state.db)
        .await?
        .into_iter()
        .find(|group| group.group_id == group_id)
        .map(object)
        .ok_or_else(|| ApiError::NotFound("Group not found".into()))
}

/// Every group, by priority
#[utoipa::path(post, path = "/api/public/get_groups", tag = "Groups",
    request_body = inline(NoFields),
    responses((status = 200, description = "Success.", body = Groups)))]
pub async fn get_groups(State(state): State<AppState>, _call: Call<NoFields>) -> Reply<Groups> {
    let list = groups::list(&state.db).await?;
    Ok(Json(Groups {
        groups: list.into_iter().map(object).collect(),
    }))
}

/// Create a group
#[utoipa::path(post, path = "/api/public/create_group", tag = "Groups",
    request_body = inline(CreateGroup),
    responses((status = 200, description = "Success.", body = OneGroup),
        (status = 422, response = StateConflict)))]
pub async fn create_group(
    State(state): State<AppState>,
    call: Call<CreateGroup>,
) -> Reply<OneGroup> {
    let fields = &call.request.target_group;
    let priority = fields.priority();
    let group_id = groups::create(&state.db, &fields.input(&priority)).await?;
    Ok(Json(OneGroup {
        group: group_object(&state, group_id).await?,
    }))
}

/// Change a group's name, description or priority
#[utoipa::path(post, path = "/api/public/update_group", tag = "Groups",
    request_body = inline(UpdateGroup),
    responses((status = 200, description = "Success.", body = OneGroup),
        (status = 404, response = NotFound), (status = 422, response = StateConflict)))]
pub async fn update_group(
    State(state): State<AppState>,
    call: Call<UpdateGroup>,
) -> Reply<OneGroup> {
    let changes = &call.request.target_group;
    let group_id = changes.group_id.0;
    let current = group_object(&state, group_id).await?;
    if current.is_system && !call.key.has(MODIFY_SYSTEM) {
        return Err(ApiError::Denied(format!(
            "{} is a system group: changing it needs the permission {MODIFY_SYSTEM}.",
            current.name
        )));
    }
    let priority = changes.fields.priority();
    groups::update(&state.db, group_id, &changes.fields.input(&priority)).await?;
    Ok(Json(OneGroup {
        group: group_object(&state, group_id).await?,
    }))
}

/// Delete a group (never a system group)
#[utoipa::path(post, path = "/api/public/delete_group", tag = "Groups",
    request_body = inline(TargetGroup),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound)))]
pub async fn delete_group(State(state): State<AppState>, call: Call<TargetGroup>) -> Reply<Empty> {
    let group_id = call.request.target_group.group_id.0;
    group_object(&state, group_id).await?;
    groups::delete(&state.db, group_id).await?;
    Ok(Json(Empty {}))
}
