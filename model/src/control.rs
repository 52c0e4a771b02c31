//! The boundary between the web app and the manager: the UI's server functions ask for
//! session changes through [`SessionControl`] (feature `control`); the manager implements it
//! and answers with its own error, [`ControlError`], which the app turns into a form error in
//! one place and the Developer API into Kasm's answers.
use serde::{Deserialize, Serialize};

/// Why the manager refused or could not carry out a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ControlError {
    /// No such session, image or agent.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong; `field` names the input it concerns, when one does.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// The session's state does not allow it now (it changed meanwhile, or its desktop moved).
    #[error("{0}")]
    Conflict(String),
    /// The user's limit of sessions is reached.
    #[error("{0}")]
    LimitReached(String),
    /// The user's groups do not allow it (a workspace not theirs, an action switched off).
    #[error("{0}")]
    NotAllowed(String),
    /// An agent, the database or the desktop is not answering, or no capacity is left.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on the server (logged where it happened).
    #[error("Something went wrong on the server: {0}")]
    Internal(String),
}

impl ControlError {
    /// A request refused because of one input.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ControlError::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// The HTTP status the web app answers it with (the same as its `AppError`'s).
    pub fn status_code(&self) -> u16 {
        match self {
            ControlError::Invalid { .. } => 400,
            ControlError::NotFound(_) => 404,
            ControlError::Conflict(_) => 422,
            ControlError::LimitReached(_) => 429,
            ControlError::NotAllowed(_) => 403,
            ControlError::Unavailable(_) => 503,
            ControlError::Internal(_) => 500,
        }
    }
}

/// What the web app asks of the manager (the manager is in the server crate, which depends on
/// the app; this trait lets the app call it without depending on the server).
#[cfg(feature = "control")]
#[async_trait::async_trait]
pub trait SessionControl: Send + Sync + 'static {
    /// Starts a session of `image_id` for `user_id`; returns its session_id at once while the
    /// launch goes on in the background (its state shows progress).
    async fn request(
        &self,
        user_id: uuid::Uuid,
        image_id: uuid::Uuid,
    ) -> Result<uuid::Uuid, ControlError>;
    /// Destroys a session: its container is removed and it ends in state `deleted`.
    async fn destroy(&self, session_id: uuid::Uuid) -> Result<(), ControlError>;
    /// Pauses, stops or resumes a session's container.
    async fn change(
        &self,
        session_id: uuid::Uuid,
        change: crate::SessionChange,
    ) -> Result<(), ControlError>;
    /// Pushes the session's expiration forward by the keepalive window.
    async fn keepalive(&self, session_id: uuid::Uuid) -> Result<(), ControlError>;
    /// As `request`, with what to do with the user's persistent profile.
    async fn request_with_profile(
        &self,
        user_id: uuid::Uuid,
        image_id: uuid::Uuid,
        mode: crate::ProfileMode,
    ) -> Result<uuid::Uuid, ControlError> {
        let _ = mode;
        self.request(user_id, image_id).await
    }
    /// Returns once the session's status is no longer `seen` (or the session is gone), or when
    /// `within` has passed: a status poll can then answer with the change at once instead of
    /// the caller asking again and again. Without a manager that knows, it returns at once.
    async fn until_status_leaves(
        &self,
        session_id: uuid::Uuid,
        seen: crate::SessionStatus,
        within: std::time::Duration,
    ) {
        let _ = (session_id, seen, within);
    }
    /// Deletes every persistent profile of the user on every agent host; answers how many.
    async fn delete_profiles(&self, user_id: uuid::Uuid) -> Result<usize, ControlError> {
        let _ = user_id;
        Err(ControlError::Unavailable(
            "Profiles cannot be deleted here.".into(),
        ))
    }
}
