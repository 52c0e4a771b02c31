//! User endpoints.
use super::{date, id, ApiError, ApiResult, Body};
use app::backend::users::{self, NewUser};
use app::backend::AppState;
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

pub async fn dispatch(state: &AppState, endpoint: &str, body: &Body) -> ApiResult {
    match endpoint {
        "get_users" => Ok(json!({ "users": user_objects(state, None).await? })),
        "get_user" => {
            let user_id = match body
                .get(&["target_user", "user_id"])
                .and_then(Value::as_str)
            {
                Some(_) => body.uuid(&["target_user", "user_id"], "user_id")?,
                None => {
                    let username = body.string(&["target_user", "username"], "target_user")?;
                    sqlx::query_scalar!(
                        "SELECT user_id FROM users WHERE lower(username) = lower($1)",
                        username
                    )
                    .fetch_optional(&state.db)
                    .await
                    .map_err(|e| ApiError::App(app::backend::db_error(e)))?
                    .ok_or_else(|| ApiError::NotFound("User not found".into()))?
                }
            };
            let user = user_objects(state, Some(user_id))
                .await?
                .pop()
                .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
            Ok(json!({ "user": user }))
        }
        "create_user" => {
            let target = body
                .get(&["target_user"])
                .ok_or(ApiError::Missing("target_user"))?;
            let field = |name: &str| {
                target
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let username = body.string(&["target_user", "username"], "username")?;
            let password = body.string(&["target_user", "password"], "password")?;
            let phone = app::backend::validate::text("phone", &field("phone"), 50)?;
            let user_id = users::create(
                &state.db,
                NewUser {
                    username,
                    password,
                    first_name: field("first_name"),
                    last_name: field("last_name"),
                    organization: field("organization"),
                    role: "user".into(),
                },
            )
            .await?;
            // What the account form does not take: phone, and an account made locked or disabled.
            let flag = |name: &str| target.get(name).and_then(Value::as_bool).unwrap_or(false);
            sqlx::query!(
                "UPDATE users SET phone = $2, locked = $3, disabled = $4 WHERE user_id = $1",
                user_id,
                phone,
                flag("locked"),
                flag("disabled"),
            )
            .execute(&state.db)
            .await
            .map_err(db)?;
            let user = user_objects(state, Some(user_id))
                .await?
                .pop()
                .expect("just created");
            Ok(json!({ "user": user }))
        }
        "delete_user" => {
            let user_id = body.uuid(&["target_user", "user_id"], "user_id")?;
            let force = body
                .get(&["force"])
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let live = store::sessions::live_count_of_user(&state.db, user_id)
                .await
                .map_err(|e| ApiError::App(e.into()))?;
            if live > 0 && !force {
                return Err(ApiError::Invalid(
                    "Unable to delete user: the user has sessions; pass force to delete anyway"
                        .into(),
                ));
            }
            if force {
                let ids = sqlx::query_scalar!("SELECT kasm_id FROM kasms WHERE user_id = $1 AND operational_status <> 'deleted'", user_id)
                    .fetch_all(&state.db)
                    .await
                    .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
                for kasm_id in ids {
                    state.sessions.destroy(kasm_id).await?;
                }
            }
            users::delete(&state.db, user_id).await?;
            Ok(json!({}))
        }
        "update_user" => {
            let user_id = body.uuid(&["target_user", "user_id"], "user_id")?;
            update_user(state, user_id, body).await?;
            let user = user_objects(state, Some(user_id))
                .await?
                .pop()
                .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
            Ok(json!({ "user": user }))
        }
        "logout_user" => {
            let user_id = body.uuid(&["target_user", "user_id"], "user_id")?;
            app::backend::auth::end_sessions(&state.db, user_id, None).await?;
            Ok(json!({}))
        }
        "get_attributes" => {
            let user_id = body.uuid(&["target_user", "user_id"], "user_id")?;
            Ok(json!({ "user_attributes": attributes(state, user_id).await? }))
        }
        "update_user_attributes" => {
            let user_id = body.uuid(&["target_user_attributes", "user_id"], "user_id")?;
            let target = body
                .get(&["target_user_attributes"])
                .cloned()
                .unwrap_or_default();
            let current = attributes(state, user_id).await?;
            let pick = |key: &str| {
                target
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| current[key].clone())
            };
            let default_image = match pick("default_image") {
                Value::String(text) if !text.is_empty() => {
                    Some(Uuid::parse_str(&text).map_err(|_| {
                        ApiError::Invalid(
                            "Invalid Parameters: default_image is not a valid id".into(),
                        )
                    })?)
                }
                _ => None,
            };
            let text = |key: &str| pick(key).as_str().unwrap_or_default().to_owned();
            let flag = |key: &str| pick(key).as_bool().unwrap_or(false);
            sqlx::query!(
                r#"UPDATE user_attributes SET ssh_public_key = $2, show_tips = $3, theme = $4, preferred_language = $5,
                       preferred_timezone = $6, toggle_control_panel = $7, default_image = $8, auto_login_kasm = $9
                   WHERE user_id = $1"#,
                user_id,
                text("ssh_public_key"),
                flag("show_tips"),
                text("theme"),
                text("preferred_language"),
                text("preferred_timezone"),
                flag("toggle_control_panel"),
                default_image,
                flag("auto_login_kasm"),
            )
            .execute(&state.db)
            .await
            .map_err(db)?;
            Ok(json!({}))
        }
        "add_user_group" | "remove_user_group" => {
            let user_id = body.uuid(&["target_user", "user_id"], "user_id")?;
            let group_id = body.uuid(&["target_group", "group_id"], "group_id")?;
            let exists = sqlx::query_scalar!(
                r#"SELECT (EXISTS (SELECT 1 FROM users WHERE user_id = $1) AND EXISTS (SELECT 1 FROM groups WHERE group_id = $2)) AS "ok!""#,
                user_id,
                group_id
            )
            .fetch_one(&state.db)
            .await
            .map_err(db)?;
            if !exists {
                return Err(ApiError::NotFound("User or group not found".into()));
            }
            if endpoint == "add_user_group" {
                sqlx::query!("INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", user_id, group_id)
                    .execute(&state.db)
                    .await
                    .map_err(db)?;
            } else {
                sqlx::query!(
                    "DELETE FROM user_groups WHERE user_id = $1 AND group_id = $2",
                    user_id,
                    group_id
                )
                .execute(&state.db)
                .await
                .map_err(db)?;
            }
            Ok(json!({}))
        }
        _ => Err(ApiError::NotFound(format!("Unknown endpoint {endpoint}"))),
    }
}

fn db(error: sqlx::Error) -> ApiError {
    ApiError::App(app::backend::db_error(error))
}

/// Applies the fields present in `target_user` (others keep their value).
async fn update_user(state: &AppState, user_id: Uuid, body: &Body) -> Result<(), ApiError> {
    let current = sqlx::query!(
        "SELECT first_name, last_name, phone, organization, locked, disabled FROM users WHERE user_id = $1",
        user_id
    )
    .fetch_optional(&state.db)
    .await
    .map_err(db)?
    .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    let text = |key: &str, old: String| {
        body.get(&["target_user", key])
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or(old)
    };
    let flag = |key: &str, old: bool| {
        body.get(&["target_user", key])
            .and_then(Value::as_bool)
            .unwrap_or(old)
    };
    sqlx::query!(
        "UPDATE users SET first_name = $2, last_name = $3, phone = $4, organization = $5, locked = $6, disabled = $7 WHERE user_id = $1",
        user_id,
        text("first_name", current.first_name),
        text("last_name", current.last_name),
        text("phone", current.phone),
        text("organization", current.organization),
        flag("locked", current.locked),
        flag("disabled", current.disabled),
    )
    .execute(&state.db)
    .await
    .map_err(db)?;
    if let Some(password) = body
        .get(&["target_user", "password"])
        .and_then(Value::as_str)
    {
        app::backend::validate::password("password", password)?;
        users::store_password(&state.db, user_id, password).await?;
    }
    if flag("disabled", false) || flag("locked", false) {
        app::backend::auth::end_sessions(&state.db, user_id, None).await?;
    }
    Ok(())
}

/// The user's attributes (a default row is made on first use).
async fn attributes(state: &AppState, user_id: Uuid) -> Result<Value, ApiError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1) AS "ok!""#,
        user_id
    )
    .fetch_one(&state.db)
    .await
    .map_err(db)?;
    if !exists {
        return Err(ApiError::NotFound("User not found".into()));
    }
    sqlx::query!(
        "INSERT INTO user_attributes (user_attributes_id, user_id) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        Uuid::new_v4(),
        user_id
    )
    .execute(&state.db)
    .await
    .map_err(db)?;
    let row = sqlx::query!("SELECT * FROM user_attributes WHERE user_id = $1", user_id)
        .fetch_one(&state.db)
        .await
        .map_err(db)?;
    Ok(json!({
        "user_attributes_id": id(row.user_attributes_id),
        "user_id": id(row.user_id),
        "ssh_public_key": row.ssh_public_key,
        "show_tips": row.show_tips,
        "theme": row.theme,
        "preferred_language": row.preferred_language,
        "preferred_timezone": row.preferred_timezone,
        "toggle_control_panel": row.toggle_control_panel,
        "default_image": row.default_image.map(id),
        "auto_login_kasm": row.auto_login_kasm,
    }))
}

/// User objects with their groups and live sessions: all users, or one.
async fn user_objects(state: &AppState, user_id: Option<Uuid>) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT user_id, username, first_name, last_name, phone, organization, locked, disabled, created,
                  last_session, password_set_date
           FROM users WHERE $1::uuid IS NULL OR user_id = $1 ORDER BY lower(username)"#,
        user_id
    )
    .fetch_all(&state.db)
    .await
    .map_err(db)?;
    let memberships = sqlx::query!(
        r#"SELECT ug.user_id, g.group_id, g.name FROM user_groups ug JOIN groups g ON g.group_id = ug.group_id
           WHERE $1::uuid IS NULL OR ug.user_id = $1 ORDER BY g.name"#,
        user_id
    )
    .fetch_all(&state.db)
    .await
    .map_err(db)?;
    let mut groups: HashMap<Uuid, Vec<Value>> = HashMap::new();
    for row in memberships {
        groups
            .entry(row.user_id)
            .or_default()
            .push(json!({ "group_id": id(row.group_id), "name": row.name }));
    }
    let mut kasms: HashMap<String, Vec<Value>> = HashMap::new();
    for kasm in super::sessions::kasms(state, user_id, None).await? {
        let owner = kasm["user_id"].as_str().unwrap_or_default().to_owned();
        kasms.entry(owner).or_default().push(kasm);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let user_key = id(row.user_id);
            json!({
                "user_id": user_key,
                "username": row.username,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "phone": row.phone,
                "organization": row.organization,
                "locked": row.locked,
                "disabled": row.disabled,
                "created": date(row.created),
                "last_session": row.last_session.map(date),
                "password_set_date": row.password_set_date.map(date),
                "groups": groups.remove(&row.user_id).unwrap_or_default(),
                "kasms": kasms.remove(&user_key).unwrap_or_default(),
            })
        })
        .collect())
}
