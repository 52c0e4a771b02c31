//! Berth's shared session vocabulary, below both the web app and the server: a session's
//! status, the changes a user may ask of it, and (feature `control`) the trait through which
//! the UI asks the manager for them, with the manager's own error. Pure types, so the
//! hydrated UI compiles it for the browser too.
mod control;
mod profile;
mod session;
#[cfg(feature = "sqlx")]
mod status_sql;

pub use control::ControlError;
#[cfg(feature = "control")]
pub use control::SessionControl;
pub use profile::ProfileMode;
pub use session::{SessionChange, SessionStatus};
