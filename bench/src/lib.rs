//! What the benchmarks share: child processes that never outlive a bench.
pub mod guard;
