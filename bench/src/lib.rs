//! What the benchmarks share: child processes that never outlive a bench, a real Berth server,
//! and a Developer API client.
pub mod devapi;
pub mod guard;
pub mod serve;
