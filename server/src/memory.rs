//! Memory that bursts of work take is given back once they end. glibc adjusts two thresholds
//! as a process runs: after freeing an mmapped block it raises the mmap threshold (up to
//! 32 MiB) so that later blocks of that size come from the heap, and the trim threshold to
//! twice that, so the heap's free top stays resident. Under a burst of sign-ins each Argon2
//! computation takes a 19 MiB block; with the thresholds raised, those blocks stayed in the
//! threads' arenas (gigabytes after a burst of hundreds). Fixing both thresholds turns the
//! adjustment off: blocks from 1 MiB up are always mmapped and unmapped when freed, and free
//! heap tops past 128 KiB are returned.
//!
//! The proxy's relay buffers (128 KiB) still come from the arenas; the proxy calls
//! [`release_freed`] when its last stream ends.

/// Blocks of this size or more are mmapped (Argon2's 19 MiB, large response bodies).
const MMAP_THRESHOLD: i32 = 1 << 20;
/// glibc's default trim threshold.
const TRIM_THRESHOLD: i32 = 128 * 1024;

/// Fixes the allocator's thresholds; called once at start-up, before the work starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc tuning parameters under its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Returns the free pages inside every arena to the system, off the runtime's worker threads.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn_blocking(|| {
            // SAFETY: malloc_trim only takes glibc's own arena locks; any thread may call it.
            unsafe { libc::malloc_trim(0) };
        });
    }
}
