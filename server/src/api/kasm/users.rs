//! User endpoints: `create_user`, `get_user`, `get_users`, `update_user`, `delete_user`,
//! `logout_user`.
use super::call::Call;
use super::control::NoFields;
use super::kasm_object::{kasms, Kasm};
use super::openapi::{NotFound, StateConflict};
use super::params::{on, Flag, Id, Required, Text};
use super::replies::{Date, Empty, Group, HexId, OneUser, User, Users};
use super::{ApiError, Reply};
use app::backend::users::{self, NewUser};
use app::backend::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The user a call names by id.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRef {
    pub user_id: Id,
}

/// A call that names its user in `target_user`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TargetUser {
    /// The user.
    #[schema(inline)]
    pub target_user: UserRef,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserFields {
    /// Letters, digits and `. _ @ -`, at most 64 (surrounding spaces are dropped).
    #[schema(value_type = String, pattern = "^\\s*[A-Za-z0-9._@-]{1,64}\\s*$")]
    username: Required,
    /// At least 8 characters.
    #[schema(value_type = String, min_length = 8, max_length = 256)]
    password: Required,
    #[schema(value_type = Option<String>, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    first_name: Option<Text>,
    #[schema(value_type = Option<String>, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    last_name: Option<Text>,
    #[schema(value_type = Option<String>, max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    organization: Option<Text>,
    #[schema(value_type = Option<String>, max_length = 50, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    phone: Option<Text>,
    /// Make the account locked.
    #[schema(value_type = Option<bool>)]
    locked: Option<Flag>,
    /// Make the account disabled.
    #[schema(value_type = Option<bool>)]
    disabled: Option<Flag>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUser {
    /// The new user.
    #[schema(inline)]
    target_user: NewUserFields,
}

fn text(field: Option<Text>) -> String {
    field.map(|Text(text)| text).unwrap_or_default()
}

/// Create a user
#[utoipa::path(post, path = "/api/public/create_user", tag = "Users",
    request_body = inline(CreateUser),
    responses((status = 200, description = "Success.", body = OneUser),
        (status = 422, response = StateConflict)))]
pub async fn create_user(State(state): State<AppState>, call: Call<CreateUser>) -> Reply<OneUser> {
    let target = call.request.target_user;
    let phone = app::backend::validate::text("phone", &text(target.phone), 50)?;
    let profile = store::users::AccountDetails {
        first_name: text(target.first_name),
        last_name: text(target.last_name),
        phone,
        organization: text(target.organization),
        locked: on(target.locked),
        disabled: on(target.disabled),
    };
    let user_id = users::create(
        &state.db,
        NewUser {
            username: target.username.0,
            password: target.password.0,
            first_name: profile.first_name.clone(),
            last_name: profile.last_name.clone(),
            organization: profile.organization.clone(),
            role: "user".into(),
        },
    )
    .await?;
    // What the account form does not take: phone, and an account made locked or disabled.
    store::users::set_account_details(&state.db, user_id, &profile).await?;
    Ok(Json(OneUser {
        user: user_object(&state, user_id).await?,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserByIdOrName {
    /// Wins over username.
    user_id: Option<Id>,
    /// Used when user_id is absent; case-insensitive.
    #[schema(value_type = Option<String>)]
    username: Option<Text>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GetUser {
    #[serde(default)]
    #[schema(inline, required = true)]
    target_user: UserByIdOrName,
}

/// One user, by user_id or username
#[utoipa::path(post, path = "/api/public/get_user", tag = "Users",
    request_body = inline(GetUser),
    responses((status = 200, description = "Success.", body = OneUser),
        (status = 404, response = NotFound)))]
pub async fn get_user(State(state): State<AppState>, call: Call<GetUser>) -> Reply<OneUser> {
    let target = call.request.target_user;
    let user_id =
        match (target.user_id, target.username) {
            (Some(Id(user_id)), _) => user_id,
            (None, Some(Text(username))) => store::users::id_by_username(&state.db, &username)
                .await?
                .ok_or_else(|| ApiError::NotFound("User not found".into()))?,
            (None, None) => return Err(ApiError::Missing("target_user".into())),
        };
    Ok(Json(OneUser {
        user: user_object(&state, user_id).await?,
    }))
}

/// Every user
#[utoipa::path(post, path = "/api/public/get_users", tag = "Users",
    request_body = inline(NoFields),
    responses((status = 200, description = "Success.", body = Users)))]
pub async fn get_users(State(state): State<AppState>, _call: Call<NoFields>) -> Reply<Users> {
    Ok(Json(Users {
        users: user_objects(&state, None).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserChanges {
    user_id: Id,
    /// At least 8 characters.
    #[schema(value_type = Option<String>, min_length = 8, max_length = 256)]
    password: Option<Text>,
    #[schema(value_type = Option<String>)]
    first_name: Option<Text>,
    #[schema(value_type = Option<String>)]
    last_name: Option<Text>,
    #[schema(value_type = Option<String>)]
    phone: Option<Text>,
    #[schema(value_type = Option<String>)]
    organization: Option<Text>,
    /// Locking also signs the user out.
    #[schema(value_type = Option<bool>)]
    locked: Option<Flag>,
    /// Disabling also signs the user out.
    #[schema(value_type = Option<bool>)]
    disabled: Option<Flag>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUser {
    /// The user and the fields to change; absent fields keep their value.
    #[schema(inline)]
    target_user: UserChanges,
}

/// Change a user; absent fields keep their value
#[utoipa::path(post, path = "/api/public/update_user", tag = "Users",
    request_body = inline(UpdateUser),
    responses((status = 200, description = "Success.", body = OneUser),
        (status = 404, response = NotFound)))]
pub async fn update_user(State(state): State<AppState>, call: Call<UpdateUser>) -> Reply<OneUser> {
    let changes = call.request.target_user;
    let user_id = changes.user_id.0;
    let current = store::users::account_details_of(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    let or = |field: Option<Text>, old: String| field.map(|Text(text)| text).unwrap_or(old);
    let flag = |field: Option<Flag>, old: bool| field.map_or(old, |Flag(on)| on);
    let profile = store::users::AccountDetails {
        first_name: or(changes.first_name, current.first_name),
        last_name: or(changes.last_name, current.last_name),
        phone: or(changes.phone, current.phone),
        organization: or(changes.organization, current.organization),
        locked: flag(changes.locked, current.locked),
        disabled: flag(changes.disabled, current.disabled),
    };
    store::users::set_account_details(&state.db, user_id, &profile).await?;
    if let Some(Text(password)) = changes.password {
        app::backend::validate::password("password", &password)?;
        users::store_password(&state.db, user_id, &password).await?;
    }
    if on(changes.disabled) || on(changes.locked) {
        app::backend::auth::end_sessions(&state.db, user_id, None).await?;
    }
    Ok(Json(OneUser {
        user: user_object(&state, user_id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteUser {
    /// The user.
    #[schema(inline)]
    target_user: UserRef,
    /// Destroy the user's sessions first.
    #[schema(value_type = Option<bool>)]
    force: Option<Flag>,
}

/// Delete a user; refused (400) while they have sessions unless force
#[utoipa::path(post, path = "/api/public/delete_user", tag = "Users",
    request_body = inline(DeleteUser),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound)))]
pub async fn delete_user(State(state): State<AppState>, call: Call<DeleteUser>) -> Reply<Empty> {
    let user_id = call.request.target_user.user_id.0;
    let force = on(call.request.force);
    let live = store::sessions::live_count_of_user(&state.db, user_id).await?;
    if live > 0 && !force {
        return Err(ApiError::Invalid(
            "Unable to delete user: the user has sessions; pass force to delete anyway".into(),
        ));
    }
    if force {
        for kasm_id in store::sessions::live_ids_of_user(&state.db, user_id).await? {
            state.sessions.destroy(kasm_id).await?;
        }
    }
    users::delete(&state.db, user_id).await?;
    Ok(Json(Empty {}))
}

/// End every browser sign-in of a user
#[utoipa::path(post, path = "/api/public/logout_user", tag = "Users",
    request_body = inline(TargetUser),
    responses((status = 200, description = "Success: `{}`.", body = Empty)))]
pub async fn logout_user(State(state): State<AppState>, call: Call<TargetUser>) -> Reply<Empty> {
    let user_id = call.request.target_user.user_id.0;
    app::backend::auth::end_sessions(&state.db, user_id, None).await?;
    Ok(Json(Empty {}))
}

/// One user object.
async fn user_object(state: &AppState, user_id: Uuid) -> Result<User, ApiError> {
    user_objects(state, Some(user_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound("User not found".into()))
}

/// User objects with their groups and live sessions: all users, or one.
async fn user_objects(state: &AppState, user_id: Option<Uuid>) -> Result<Vec<User>, ApiError> {
    let rows = store::users::listed(&state.db, user_id).await?;
    let mut groups: HashMap<Uuid, Vec<Group>> = HashMap::new();
    for row in store::groups::memberships(&state.db, user_id).await? {
        groups.entry(row.user_id).or_default().push(Group {
            group_id: HexId(row.group_id),
            name: row.name,
        });
    }
    let mut sessions: HashMap<HexId, Vec<Kasm>> = HashMap::new();
    for kasm in kasms(state, user_id, None).await? {
        sessions.entry(kasm.user_id).or_default().push(kasm);
    }
    Ok(rows
        .into_iter()
        .map(|row| User {
            user_id: HexId(row.user_id),
            groups: groups.remove(&row.user_id).unwrap_or_default(),
            kasms: sessions.remove(&HexId(row.user_id)).unwrap_or_default(),
            username: row.username,
            first_name: row.first_name,
            last_name: row.last_name,
            phone: row.phone,
            organization: row.organization,
            locked: row.locked,
            disabled: row.disabled,
            created: Date(row.created),
            last_session: row.last_session.map(Date),
            password_set_date: row.password_set_date.map(Date),
        })
        .collect())
}
