//! Admin → Groups: groups, their members, settings and workspaces, and a user's effective
//! settings with where each came from. Inputs are checked here; the data is in the store.
use crate::model::{
    EffectiveSetting, GroupDetail, GroupImageRow, GroupMember, GroupRow, GroupSettingRow,
    UserPolicyView,
};
use crate::AppError;
use sqlx::PgPool;
use store::groups::{GroupFields, GroupRecord, ALL_USERS};
use store::policy::{self, Source};
use uuid::Uuid;

/// A group's name, description and priority as the form gives them.
pub struct GroupInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    /// Empty: the next free number (new groups) or unchanged.
    pub priority: &'a str,
}

struct Checked {
    name: String,
    description: String,
    priority: Option<i32>,
}

fn check(input: &GroupInput) -> Result<Checked, AppError> {
    let name = super::validate::text("name", input.name, 64)?;
    if name.is_empty() {
        return Err(AppError::invalid("name", "A group needs a name."));
    }
    let description = super::validate::text("description", input.description, 500)?;
    let priority = match input.priority.trim() {
        "" => None,
        text => Some(
            text.parse::<i32>()
                .ok()
                .filter(|p| (1..=1_000_000).contains(p))
                .ok_or_else(|| {
                    AppError::invalid(
                        "priority",
                        "The priority must be a whole number from 1 to 1000000.",
                    )
                })?,
        ),
    };
    Ok(Checked {
        name,
        description,
        priority,
    })
}

fn row(group: GroupRecord) -> GroupRow {
    GroupRow {
        group_id: group.group_id,
        name: group.name,
        description: group.description,
        priority: group.priority,
        is_system: group.is_system,
        members: group.members,
        images: group.images,
        settings: group.settings,
    }
}

pub async fn list(db: &PgPool) -> Result<Vec<GroupRow>, AppError> {
    Ok(store::groups::list(db)
        .await?
        .into_iter()
        .map(row)
        .collect())
}

pub async fn create(db: &PgPool, input: &GroupInput<'_>) -> Result<Uuid, AppError> {
    let checked = check(input)?;
    let fields = GroupFields {
        name: &checked.name,
        description: &checked.description,
        priority: checked.priority,
    };
    Ok(store::groups::create(db, fields).await?)
}

pub async fn update(db: &PgPool, group_id: Uuid, input: &GroupInput<'_>) -> Result<(), AppError> {
    let checked = check(input)?;
    let group = store::groups::get(db, group_id).await?;
    if group.is_system && checked.name != group.name {
        return Err(AppError::invalid("name", "System groups keep their names."));
    }
    let fields = GroupFields {
        name: &checked.name,
        description: &checked.description,
        priority: checked.priority,
    };
    Ok(store::groups::update(db, group_id, fields).await?)
}

/// Deletes a group; system groups are refused (400).
pub async fn delete(db: &PgPool, group_id: Uuid) -> Result<String, AppError> {
    let name = store::groups::get(db, group_id).await?.name;
    match store::groups::delete(db, group_id).await? {
        store::groups::Deletion::Deleted => Ok(name),
        store::groups::Deletion::System => Err(AppError::invalid(
            "group_id",
            format!("{name} is a system group: it cannot be deleted."),
        )),
    }
}

/// The group's page: members, settings (every known one) and workspaces (every image).
pub async fn detail(db: &PgPool, group_id: Uuid) -> Result<GroupDetail, AppError> {
    let group = row(store::groups::get(db, group_id).await?);
    let members = if group_id == ALL_USERS {
        Vec::new()
    } else {
        members_of(store::groups::members(db, group_id).await?)
    };
    let set = store::group_access::settings_of(db, group_id).await?;
    let settings = policy::DEFINITIONS
        .iter()
        .map(|definition| GroupSettingRow {
            name: definition.name.to_owned(),
            meaning: definition.meaning.to_owned(),
            value: set
                .iter()
                .find(|(name, _)| name == definition.name)
                .map(|(_, value)| value.to_string()),
            default: definition.default_value().to_string(),
        })
        .collect();
    let assigned = store::group_access::images_of(db, group_id).await?;
    let images = store::images::list(db)
        .await?
        .into_iter()
        .map(|image| GroupImageRow {
            assigned: assigned.contains(&image.image_id),
            image_id: image.image_id,
            friendly_name: image.friendly_name,
        })
        .collect();
    Ok(GroupDetail {
        group,
        members,
        settings,
        images,
    })
}

fn members_of(members: Vec<store::groups::Member>) -> Vec<GroupMember> {
    members
        .into_iter()
        .map(|m| GroupMember {
            user_id: m.user_id,
            username: m.username,
        })
        .collect()
}

/// Users whose name contains `search` and who are not members yet (at most 20).
pub async fn candidates(
    db: &PgPool,
    group_id: Uuid,
    search: &str,
) -> Result<Vec<GroupMember>, AppError> {
    Ok(members_of(
        store::groups::candidates(db, group_id, search).await?,
    ))
}

/// Adds the user named `username` to the group, or removes them.
pub async fn set_member(
    db: &PgPool,
    group_id: Uuid,
    username: &str,
    member: bool,
) -> Result<(), AppError> {
    store::groups::get(db, group_id).await?;
    if group_id == ALL_USERS {
        return Err(AppError::invalid(
            "username",
            "Every user belongs to All Users: its members cannot change.",
        ));
    }
    let user_id = store::users::id_by_username(db, username.trim())
        .await?
        .ok_or_else(|| {
            AppError::invalid("username", format!("There is no user {}.", username.trim()))
        })?;
    if member {
        store::groups::add_member(db, user_id, group_id).await?;
    } else {
        store::groups::remove_member(db, user_id, group_id).await?;
    }
    Ok(())
}

/// Sets a setting of the group from the form's text (JSON, or a bare word for text), or
/// removes it when the text is empty.
pub async fn set_setting(
    db: &PgPool,
    group_id: Uuid,
    name: &str,
    value: &str,
) -> Result<(), AppError> {
    store::groups::get(db, group_id).await?;
    if policy::definition(name).is_none() {
        return Err(AppError::invalid(
            "name",
            format!("There is no setting {name}."),
        ));
    }
    let value = value.trim();
    if value.is_empty() {
        return Ok(store::group_access::unset_setting(db, group_id, name).await?);
    }
    let parsed: serde_json::Value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    policy::check(name, &parsed).map_err(|message| AppError::invalid("value", message))?;
    if name == "volume_mapping" {
        super::storage::check_mappings(db, "value", &parsed).await?;
    }
    Ok(store::group_access::set_setting(db, group_id, name, &parsed).await?)
}

/// Assigns a workspace to the group, or takes it away.
pub async fn set_image(
    db: &PgPool,
    group_id: Uuid,
    image_id: Uuid,
    assigned: bool,
) -> Result<(), AppError> {
    store::groups::get(db, group_id).await?;
    if !store::images::list(db)
        .await?
        .iter()
        .any(|i| i.image_id == image_id)
    {
        return Err(AppError::NotFound("No such workspace.".into()));
    }
    Ok(store::group_access::assign_image(db, group_id, image_id, assigned).await?)
}

/// A user's groups and effective settings, with where each came from.
pub async fn user_policy(db: &PgPool, user_id: Uuid) -> Result<UserPolicyView, AppError> {
    let username = store::users::username_of(db, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))?;
    let groups = store::group_access::groups_with_values(db, user_id)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    let settings = store::group_access::policy_of(db, user_id)
        .await?
        .resolved
        .into_iter()
        .map(|r| EffectiveSetting {
            name: r.name.to_owned(),
            value: r.value.to_string(),
            source: match r.source {
                Source::Group { name, .. } => name,
                Source::Merged(names) => format!("merged from {}", names.join(", ")),
                Source::Deployment => "deployment setting".to_owned(),
                Source::Default => "default".to_owned(),
            },
        })
        .collect();
    Ok(UserPolicyView {
        username,
        groups,
        settings,
    })
}
