//! Groups: their records, members and the system groups. Every user belongs to All Users
//! implicitly (no membership rows are kept for it); Administrators and the others hold
//! explicit members. Their settings and workspaces are in `group_access`.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// The system group every user belongs to; its settings are the defaults.
pub const ALL_USERS: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_a11a);
/// The system group of the administrators.
pub const ADMINISTRATORS: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_ad01);

/// Whether both the user and the group exist.
pub async fn user_and_group_exist(
    db: &PgPool,
    user_id: Uuid,
    group_id: Uuid,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT (EXISTS (SELECT 1 FROM users WHERE user_id = $1) AND EXISTS (SELECT 1 FROM groups WHERE group_id = $2)) AS "ok!""#,
        user_id,
        group_id
    )
    .fetch_one(db)
    .await?)
}

/// Makes the user a member (already one, or All Users: nothing changes).
pub async fn add_member(db: &PgPool, user_id: Uuid, group_id: Uuid) -> Result<(), StoreError> {
    if group_id == ALL_USERS {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id,
        group_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the user's membership (not a member: nothing changes). All Users cannot be left:
/// callers refuse it first.
pub async fn remove_member(db: &PgPool, user_id: Uuid, group_id: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM user_groups WHERE user_id = $1 AND group_id = $2",
        user_id,
        group_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A user's membership of a group, with the group's name.
#[derive(Debug, Clone)]
pub struct Membership {
    pub user_id: Uuid,
    pub group_id: Uuid,
    pub name: String,
}

/// Explicit memberships by group name (All Users, which holds everyone, is not listed):
/// every user's, or one user's.
pub async fn memberships(
    db: &PgPool,
    user_id: Option<Uuid>,
) -> Result<Vec<Membership>, StoreError> {
    Ok(sqlx::query_as!(
        Membership,
        r#"SELECT ug.user_id, g.group_id, g.name FROM user_groups ug JOIN groups g ON g.group_id = ug.group_id
           WHERE $1::uuid IS NULL OR ug.user_id = $1 ORDER BY g.name"#,
        user_id
    )
    .fetch_all(db)
    .await?)
}

/// A group as the admin's list shows it.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub group_id: Uuid,
    pub name: String,
    pub description: String,
    pub priority: i32,
    pub is_system: bool,
    /// Members (for All Users, every user).
    pub members: i64,
    /// Workspaces assigned to it.
    pub images: i64,
    /// Settings it sets.
    pub settings: i64,
}

/// Every group, by priority.
pub async fn list(db: &PgPool) -> Result<Vec<GroupRecord>, StoreError> {
    Ok(sqlx::query_as!(
        GroupRecord,
        r#"SELECT g.group_id, g.name, g.description, g.priority, g.is_system,
                  CASE WHEN g.group_id = $1 THEN (SELECT count(*) FROM users)
                       ELSE (SELECT count(*) FROM user_groups ug WHERE ug.group_id = g.group_id) END AS "members!",
                  (SELECT count(*) FROM group_images gi WHERE gi.group_id = g.group_id) AS "images!",
                  (SELECT count(*) FROM group_settings gs WHERE gs.group_id = g.group_id) AS "settings!"
           FROM groups g ORDER BY g.priority"#,
        ALL_USERS
    )
    .fetch_all(db)
    .await?)
}

/// One group.
pub async fn get(db: &PgPool, group_id: Uuid) -> Result<GroupRecord, StoreError> {
    list(db)
        .await?
        .into_iter()
        .find(|g| g.group_id == group_id)
        .ok_or(StoreError::NotFound("group"))
}

/// What the admin sets of a group. A new group's priority of None takes the first free number
/// from 100 (before All Users' 1000).
#[derive(Debug, Clone, Copy)]
pub struct GroupFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub priority: Option<i32>,
}

/// Creates a group; a taken name or priority is a conflict naming it.
pub async fn create(db: &PgPool, fields: GroupFields<'_>) -> Result<Uuid, StoreError> {
    let group_id = Uuid::new_v4();
    sqlx::query!(
        r#"INSERT INTO groups (group_id, name, description, priority)
           VALUES ($1, $2, $3, COALESCE($4,
                   (SELECT min(p) FROM generate_series(100, 999) p WHERE NOT EXISTS (SELECT 1 FROM groups WHERE priority = p)),
                   (SELECT max(priority) + 1 FROM groups)))"#,
        group_id,
        fields.name,
        fields.description,
        fields.priority,
    )
    .execute(db)
    .await?;
    Ok(group_id)
}

/// Changes a group's name, description and priority (kept when None).
pub async fn update(
    db: &PgPool,
    group_id: Uuid,
    fields: GroupFields<'_>,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE groups SET name = $2, description = $3, priority = COALESCE($4, priority) WHERE group_id = $1",
        group_id,
        fields.name,
        fields.description,
        fields.priority,
    )
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("group"));
    }
    Ok(())
}

/// What deleting a group did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// A system group: not deleted.
    System,
}

/// Deletes a group with its memberships, settings and assignments; system groups stay.
pub async fn delete(db: &PgPool, group_id: Uuid) -> Result<Deletion, StoreError> {
    let group = get(db, group_id).await?;
    if group.is_system {
        return Ok(Deletion::System);
    }
    sqlx::query!(
        "DELETE FROM groups WHERE group_id = $1 AND NOT is_system",
        group_id
    )
    .execute(db)
    .await?;
    Ok(Deletion::Deleted)
}

/// A member of a group, or a user who could become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
}

/// A group's members by username (for All Users, every user).
pub async fn members(db: &PgPool, group_id: Uuid) -> Result<Vec<Member>, StoreError> {
    Ok(sqlx::query_as!(
        Member,
        r#"SELECT u.user_id, u.username FROM users u
           WHERE $1::uuid = $2::uuid OR EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = u.user_id AND ug.group_id = $1)
           ORDER BY lower(u.username)"#,
        group_id,
        ALL_USERS
    )
    .fetch_all(db)
    .await?)
}

/// Up to 20 users whose username contains `text` (any case) and who are not members yet.
pub async fn candidates(
    db: &PgPool,
    group_id: Uuid,
    text: &str,
) -> Result<Vec<Member>, StoreError> {
    let escaped = text
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Ok(sqlx::query_as!(
        Member,
        r#"SELECT u.user_id, u.username FROM users u
           WHERE u.username ILIKE $2 AND $1::uuid <> $3::uuid
             AND NOT EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = u.user_id AND ug.group_id = $1)
           ORDER BY lower(u.username) LIMIT 20"#,
        group_id,
        format!("%{escaped}%"),
        ALL_USERS
    )
    .fetch_all(db)
    .await?)
}
