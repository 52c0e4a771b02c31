//! Groups: memberships of users.
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

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

/// Makes the user a member (already one: nothing changes).
pub async fn add_member(db: &PgPool, user_id: Uuid, group_id: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id,
        group_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the user's membership (not a member: nothing changes).
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

/// Memberships by group name: every user's, or one user's.
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
