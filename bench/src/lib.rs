//! What the benchmarks share: child processes that never outlive a bench, a real Berth server,
//! CPU time from /proc, and a Developer API client.
pub mod cpu;
pub mod devapi;
pub mod guard;
pub mod serve;
pub mod staging;
pub mod stats;
