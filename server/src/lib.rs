//! The Berth control plane. One module per role; `berth serve` runs them together.
pub mod api;
pub mod config;
pub mod startup;
pub mod telemetry;
