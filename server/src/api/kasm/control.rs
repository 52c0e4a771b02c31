//! Listing and controlling sessions (`get_kasms`, `get_user_kasms`, `destroy_kasm`,
//! `keepalive`, `pause_kasm`, `resume_kasm`, `stop_kasm`) and listing images (`get_images`).
use super::call::Call;
use super::kasm_object::{kasms, Kasm};
use super::openapi::{NotFound, StateConflict, Unavailable};
use super::params::Id;
use super::replies::{Date, Empty, Image, Images};
use super::{ApiError, Reply};
use crate::manager::Manager;
use app::backend::AppState;
use app::model::SessionChange;
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// No fields of its own.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NoFields {}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllKasms {
    kasms: Vec<Kasm>,
    current_time: Date,
}

/// Every live session
#[utoipa::path(post, path = "/api/public/get_kasms", tag = "Sessions",
    request_body = inline(NoFields),
    responses((status = 200, description = "Success.", body = AllKasms)))]
pub async fn get_kasms(State(state): State<AppState>, _call: Call<NoFields>) -> Reply<AllKasms> {
    Ok(Json(AllKasms {
        kasms: kasms(&state, None, None).await?,
        current_time: Date::now(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OfUser {
    /// The sessions' owner.
    user_id: Id,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserKasms {
    kasms: Vec<Kasm>,
}

/// A user's live sessions
#[utoipa::path(post, path = "/api/public/get_user_kasms", tag = "Sessions",
    request_body = inline(OfUser),
    responses((status = 200, description = "Success.", body = UserKasms)))]
pub async fn get_user_kasms(State(state): State<AppState>, call: Call<OfUser>) -> Reply<UserKasms> {
    Ok(Json(UserKasms {
        kasms: kasms(&state, Some(call.request.user_id.0), None).await?,
    }))
}

/// A session and its owner.
#[derive(Debug, Deserialize, ToSchema)]
pub struct KasmOfUser {
    /// The session's owner.
    pub user_id: Id,
    /// The session.
    pub kasm_id: Id,
}

impl KasmOfUser {
    /// The kasm_id, checked to belong to the user_id.
    pub async fn owned(&self, state: &AppState) -> Result<Uuid, ApiError> {
        let (user_id, kasm_id) = (self.user_id.0, self.kasm_id.0);
        match store::sessions::owner_of(&state.db, kasm_id).await? {
            Some(owner) if owner == user_id => Ok(kasm_id),
            Some(_) => Err(ApiError::Invalid(
                "The kasm does not belong to that user".into(),
            )),
            None => Err(ApiError::NotFound("Kasm not found".into())),
        }
    }
}

/// Delete a session and its container
#[utoipa::path(post, path = "/api/public/destroy_kasm", tag = "Sessions",
    request_body = inline(KasmOfUser),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound)))]
pub async fn destroy_kasm(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<KasmOfUser>,
) -> Reply<Empty> {
    let kasm_id = call.request.owned(&state).await?;
    app::backend::policy::require_delete(&state.db, call.request.user_id.0).await?;
    manager
        .destroy_session(kasm_id, "Destroyed through the API.")
        .await?;
    Ok(Json(Empty {}))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Keepalive {
    /// The session.
    kasm_id: Id,
}

/// Push a session's expiration forward by the keepalive window (refused, as the session
/// page's keepalive is, once the owner's `idle_disconnect` disconnected them)
#[utoipa::path(post, path = "/api/public/keepalive", tag = "Sessions",
    request_body = inline(Keepalive),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound), (status = 422, response = StateConflict)))]
pub async fn keepalive(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<Keepalive>,
) -> Reply<Empty> {
    let kasm_id = call.request.kasm_id.0;
    if let Some(session) = store::sessions::views::one(&state.db, kasm_id).await? {
        let idleness = app::backend::idle::of(
            &state.db,
            &state.redis,
            &state.web.redis_prefix,
            session.user_id,
            kasm_id,
        )
        .await
        .ok()
        .flatten();
        app::backend::idle::require_active(idleness)?;
    }
    manager.keepalive(kasm_id).await?;
    Ok(Json(Empty {}))
}

async fn change(
    state: &AppState,
    manager: &Manager,
    request: &KasmOfUser,
    change: SessionChange,
) -> Reply<Empty> {
    let kasm_id = request.owned(state).await?;
    app::backend::policy::require_change(&state.db, request.user_id.0, change).await?;
    manager.change_session(kasm_id, change).await?;
    Ok(Json(Empty {}))
}

/// Pause a running session
#[utoipa::path(post, path = "/api/public/pause_kasm", tag = "Sessions",
    request_body = inline(KasmOfUser),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound), (status = 503, response = Unavailable)))]
pub async fn pause_kasm(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<KasmOfUser>,
) -> Reply<Empty> {
    change(&state, &manager, &call.request, SessionChange::Pause).await
}

/// Resume a paused or stopped session
#[utoipa::path(post, path = "/api/public/resume_kasm", tag = "Sessions",
    request_body = inline(KasmOfUser),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound), (status = 422, response = StateConflict),
        (status = 503, response = Unavailable)))]
pub async fn resume_kasm(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<KasmOfUser>,
) -> Reply<Empty> {
    change(&state, &manager, &call.request, SessionChange::Resume).await
}

/// Stop a running or paused session's container, keeping the session
#[utoipa::path(post, path = "/api/public/stop_kasm", tag = "Sessions",
    request_body = inline(KasmOfUser),
    responses((status = 200, description = "Success: `{}`.", body = Empty),
        (status = 404, response = NotFound), (status = 503, response = Unavailable)))]
pub async fn stop_kasm(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<KasmOfUser>,
) -> Reply<Empty> {
    change(&state, &manager, &call.request, SessionChange::Stop).await
}

/// Every workspace image
#[utoipa::path(post, path = "/api/public/get_images", tag = "Images",
    request_body = inline(NoFields),
    responses((status = 200, description = "Success.", body = Images)))]
pub async fn get_images(State(state): State<AppState>, _call: Call<NoFields>) -> Reply<Images> {
    let images = store::images::listed(&state.db).await?;
    Ok(Json(Images {
        images: images.into_iter().map(Image::from).collect(),
    }))
}
