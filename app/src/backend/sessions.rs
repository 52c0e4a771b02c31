//! The boundary between the web app and the manager role (which lives in the server crate):
//! the app asks for session changes through this trait; the manager implements it. Both
//! live in `berth_model`, below the app and the server; this path is kept for the app.
pub use berth_model::{ControlError, SessionControl};
