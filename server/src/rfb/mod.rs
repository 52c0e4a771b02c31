//! RFB (VNC) as Berth speaks it: VNC authentication with a session's container, a small client
//! (readiness, screenshots, tests), and whole-screen captures.
pub mod auth;
mod capture;
mod client;

pub use capture::Capture;
pub use client::*;
