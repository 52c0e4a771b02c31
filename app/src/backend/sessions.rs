//! The boundary between the web app and the manager role (which lives in the server crate):
//! the app asks for session changes through this trait; the manager implements it.
use crate::model::SessionChange;
use crate::AppError;
use uuid::Uuid;

#[async_trait::async_trait]
pub trait SessionControl: Send + Sync + 'static {
    /// Starts a session of `image_id` for `user_id`; returns its kasm_id at once while the
    /// launch goes on in the background (its state shows progress).
    async fn request(&self, user_id: Uuid, image_id: Uuid) -> Result<Uuid, AppError>;
    /// Destroys a session: its container is removed and it ends in state `deleted`.
    async fn destroy(&self, kasm_id: Uuid) -> Result<(), AppError>;
    /// Pauses, stops or resumes a session's container.
    async fn change(&self, kasm_id: Uuid, change: SessionChange) -> Result<(), AppError>;
    /// Pushes the session's expiration forward by the keepalive window.
    async fn keepalive(&self, kasm_id: Uuid) -> Result<(), AppError>;
}
