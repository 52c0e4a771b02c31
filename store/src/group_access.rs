//! What groups give their members: settings (one value per group and name, checked against
//! `policy::DEFINITIONS` by the callers) resolved into a user's [`Policy`], and the workspaces
//! assigned to groups, which decide what a user may see and launch: an image assigned to one
//! of the user's groups (All Users included), or, for an administrator, one assigned to none.
use crate::groups::ALL_USERS;
use crate::policy::{GroupValues, Policy};
use crate::StoreError;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// The settings a group sets, by name.
pub async fn settings_of(db: &PgPool, group_id: Uuid) -> Result<Vec<(String, Value)>, StoreError> {
    let rows = sqlx::query!(
        "SELECT name, value FROM group_settings WHERE group_id = $1 ORDER BY name",
        group_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.value)).collect())
}

/// Sets (or replaces) one setting of a group (which exists: the caller checked).
pub async fn set_setting(
    db: &PgPool,
    group_id: Uuid,
    name: &str,
    value: &Value,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO group_settings (group_id, name, value) VALUES ($1, $2, $3)
           ON CONFLICT (group_id, name) DO UPDATE SET value = EXCLUDED.value, updated = now()"#,
        group_id,
        name,
        value
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a group's value of a setting (its members then get it from other groups).
pub async fn unset_setting(db: &PgPool, group_id: Uuid, name: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM group_settings WHERE group_id = $1 AND name = $2",
        group_id,
        name
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The ids of the images assigned to a group.
pub async fn images_of(db: &PgPool, group_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT image_id FROM group_images WHERE group_id = $1",
        group_id
    )
    .fetch_all(db)
    .await?)
}

/// Assigns an image to a group, or takes it away (both exist: the caller checked).
pub async fn assign_image(
    db: &PgPool,
    group_id: Uuid,
    image_id: Uuid,
    assigned: bool,
) -> Result<(), StoreError> {
    if assigned {
        sqlx::query!(
            "INSERT INTO group_images (group_id, image_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            group_id,
            image_id
        )
        .execute(db)
        .await?;
    } else {
        sqlx::query!(
            "DELETE FROM group_images WHERE group_id = $1 AND image_id = $2",
            group_id,
            image_id
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// The user's groups (All Users included) with the settings each sets.
pub async fn groups_with_values(
    db: &PgPool,
    user_id: Uuid,
) -> Result<Vec<GroupValues>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT g.group_id, g.name, g.priority, gs.name AS "setting?", gs.value AS "value?"
           FROM groups g LEFT JOIN group_settings gs ON gs.group_id = g.group_id
           WHERE g.group_id = $2
              OR g.group_id IN (SELECT group_id FROM user_groups WHERE user_id = $1)
           ORDER BY g.priority, gs.name"#,
        user_id,
        ALL_USERS
    )
    .fetch_all(db)
    .await?;
    Ok(fold_groups(rows.into_iter().map(|row| {
        (row.group_id, row.name, row.priority, row.setting, row.value)
    })))
}

/// One group and one of its settings (if it sets any), as the queries read them.
type GroupSetting = (Uuid, String, i32, Option<String>, Option<Value>);

/// The groups of rows ordered by group, each with the settings it sets.
fn fold_groups(rows: impl IntoIterator<Item = GroupSetting>) -> Vec<GroupValues> {
    let mut groups: Vec<GroupValues> = Vec::new();
    for (group_id, name, priority, setting, value) in rows {
        if groups.last().map(|g| g.group_id) != Some(group_id) {
            groups.push(GroupValues {
                group_id,
                name,
                priority,
                values: Vec::new(),
            });
        }
        if let (Some(setting), Some(value), Some(group)) = (setting, value, groups.last_mut()) {
            group.values.push((setting, value));
        }
    }
    groups
}

/// The user's effective settings: their groups' over the deployment's, read in one query
/// (the deployment's settings ride along with the groups' rows).
pub async fn policy_of(db: &PgPool, user_id: Uuid) -> Result<Policy, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT g.group_id, g.name, g.priority, gs.name AS "setting?", gs.value AS "value?",
                  (SELECT json_object_agg(name, value) FROM settings) AS deployment
           FROM groups g LEFT JOIN group_settings gs ON gs.group_id = g.group_id
           WHERE g.group_id = $2
              OR g.group_id IN (SELECT group_id FROM user_groups WHERE user_id = $1)
           ORDER BY g.priority, gs.name"#,
        user_id,
        ALL_USERS
    )
    .fetch_all(db)
    .await?;
    let deployment = match rows.first() {
        Some(row) => crate::settings::from_object(row.deployment.as_ref()),
        // No group at all (All Users is always there): the settings alone.
        None => crate::settings::load(db).await?,
    };
    let groups = fold_groups(
        rows.into_iter()
            .map(|row| (row.group_id, row.name, row.priority, row.setting, row.value)),
    );
    Ok(Policy::resolve(&groups, &deployment.group_defaults()))
}

/// Whether the user may see and launch the image (enabled or not).
pub async fn may_use_image(db: &PgPool, user_id: Uuid, image_id: Uuid) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM group_images gi
               WHERE gi.image_id = $2
                 AND (gi.group_id = $3 OR gi.group_id IN (SELECT group_id FROM user_groups WHERE user_id = $1))
           ) OR (
               NOT EXISTS (SELECT 1 FROM group_images gi WHERE gi.image_id = $2)
               AND EXISTS (SELECT 1 FROM users WHERE user_id = $1 AND role = 'admin')
           ) AS "allowed!""#,
        user_id,
        image_id,
        ALL_USERS
    )
    .fetch_one(db)
    .await?)
}
