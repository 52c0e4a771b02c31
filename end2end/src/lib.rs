//! End-to-end browser tests live in tests/.
