//! The Berth control plane. One module per role; `berth serve` runs them together.
pub mod access;
pub mod agent;
pub mod api;
pub mod config;
pub mod connections;
pub mod images;
pub mod manager;
pub mod memory;
pub mod metrics;
pub mod protocol;
pub mod proxy;
pub mod rfb;
pub mod share;
pub mod startup;
pub mod telemetry;
