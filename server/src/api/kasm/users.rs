//! User endpoints.
use super::{date, id, ApiError, ApiResult, Body};
use app::backend::users::{self, NewUser};
use app::backend::AppState;
use serde_json::{json, Value};
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
            let live = sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM kasms WHERE user_id = $1 AND operational_status <> 'deleted'"#,
                user_id
            )
            .fetch_one(&state.db)
            .await
            .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
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
        _ => Err(ApiError::NotFound(format!("Unknown endpoint {endpoint}"))),
    }
}

async fn user_objects(state: &AppState, user_id: Option<Uuid>) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query!(
        r#"SELECT user_id, username, first_name, last_name, phone, organization, locked, disabled, created,
                  last_session, password_set_date
           FROM users WHERE $1::uuid IS NULL OR user_id = $1 ORDER BY lower(username)"#,
        user_id
    )
    .fetch_all(&state.db)
    .await
    .map_err(|e| ApiError::App(app::backend::db_error(e)))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            json!({
                "user_id": id(row.user_id),
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
                "groups": [],
                "kasms": [],
            })
        })
        .collect())
}
