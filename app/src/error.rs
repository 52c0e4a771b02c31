//! The one error type of the app's server functions. It crosses the wire as JSON, so the
//! browser can show the message (and the field it concerns) inline.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input that fails validation; `field` names the form field when there is one.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// The request conflicts with existing data, e.g. a taken username.
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    #[error("Please sign in.")]
    Unauthorized,
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// Refused by the user's group settings or workspace assignments; says which.
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A dependency (database, Redis, Docker) is not answering.
    #[error("{0}")]
    Unavailable(String),
    #[error("Something went wrong on the server: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// The form field this error concerns, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } | AppError::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Invalid { .. } => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden | AppError::NotAllowed(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict { .. } => 422,
            AppError::TooManyRequests(_) => 429,
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) => 500,
        }
    }
}

/// The manager's answers (through `SessionControl`), as the UI shows them.
impl From<berth_model::ControlError> for AppError {
    fn from(error: berth_model::ControlError) -> Self {
        use berth_model::ControlError;
        match error {
            ControlError::NotFound(message) => AppError::NotFound(message),
            ControlError::Invalid { field, message } => AppError::Invalid { field, message },
            ControlError::Conflict(message) => AppError::Conflict {
                field: None,
                message,
            },
            ControlError::LimitReached(message) => AppError::TooManyRequests(message),
            ControlError::NotAllowed(message) => AppError::NotAllowed(message),
            ControlError::Unavailable(message) => AppError::Unavailable(message),
            ControlError::Internal(message) => AppError::Internal(message),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<store::StoreError> for AppError {
    fn from(error: store::StoreError) -> Self {
        use store::StoreError;
        let message = error.to_string();
        match error {
            StoreError::NotFound(_) => AppError::NotFound(message),
            StoreError::Conflict { field } => AppError::Conflict { field, message },
            StoreError::Unstorable => AppError::Invalid {
                field: None,
                message,
            },
            StoreError::Unavailable => AppError::Unavailable(message),
            StoreError::Internal => AppError::Internal(message),
        }
    }
}

/// The one place an error becomes an HTTP answer: its status and the error itself as JSON
/// (what the UI's server-function client decodes, with the field it concerns).
#[cfg(feature = "ssr")]
impl AppError {
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.status_code())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        (self.status(), axum::Json(self)).into_response()
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message)
            | ServerFnErrorErr::MissingArg(message)
            | ServerFnErrorErr::Deserialization(message) => AppError::Invalid {
                field: None,
                message: format!("Malformed request: {message}"),
            },
            ServerFnErrorErr::Request(message) => {
                AppError::Unavailable(format!("The server could not be reached: {message}"))
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}
