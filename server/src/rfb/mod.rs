//! RFB (VNC) as Berth speaks it: VNC authentication with a session's container, a small client
//! (readiness, screenshots, tests), and whole-screen captures.
pub mod auth;
mod capture;
mod client;
mod error;
mod reader;
mod session;

pub use capture::{capture, Capture};
pub use client::{
    authenticate, first_framebuffer, first_framebuffer_at, server_init, Authenticated, Framebuffer,
    ServerInit,
};
pub use error::RfbError;
pub use reader::ByteStream;
pub use session::{key_event, Session, KEY_ALT, KEY_CONTROL, KEY_RETURN};
