//! Groups, their settings and workspaces, and a user's effective settings, as the admin
//! pages show them.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A group in Admin → Groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    pub group_id: Uuid,
    pub name: String,
    pub description: String,
    pub priority: i32,
    /// All Users and Administrators: cannot be deleted.
    pub is_system: bool,
    pub members: i64,
    pub images: i64,
    pub settings: i64,
}

/// A member of a group (or a user who could become one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMember {
    pub user_id: Uuid,
    pub username: String,
}

/// One setting as a group has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSettingRow {
    pub name: String,
    pub meaning: String,
    /// The group's value as JSON text; None when the group does not set it.
    pub value: Option<String>,
    /// The built-in default, as JSON text.
    pub default: String,
}

/// A workspace and whether the group has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupImageRow {
    pub image_id: Uuid,
    pub friendly_name: String,
    pub assigned: bool,
}

/// Everything the page of one group shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group: GroupRow,
    /// Empty for All Users (everyone is a member).
    pub members: Vec<GroupMember>,
    pub settings: Vec<GroupSettingRow>,
    pub images: Vec<GroupImageRow>,
}

/// One of a user's effective settings and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectiveSetting {
    pub name: String,
    /// As JSON text.
    pub value: String,
    /// The group's name, "merged from …", "deployment setting" or "default".
    pub source: String,
}

/// A user's groups and effective settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPolicyView {
    pub username: String,
    /// By priority, All Users last.
    pub groups: Vec<String>,
    pub settings: Vec<EffectiveSetting>,
}
