//! The share role: live viewers of shared sessions and the in-session chat. State that must be
//! seen by every server process (chat messages, presence, sharing changes) goes through Redis
//! pub/sub; each process keeps only its own open connections.
pub mod chat;
mod hub;

pub use hub::{ShareHub, Watcher};
