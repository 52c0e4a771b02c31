//! Waiting for a session's status to change, for status polls that hold their answer while a
//! session starts (the Developer API's `get_kasm_status`). A client that asks every few
//! milliseconds otherwise spends the two vCPUs that the container's start needs on requests
//! that all say "starting" (bench/README.md, bench/launch).
//!
//! Changes this process makes wake the waiter at once; a change made by another replica is
//! seen when the waiter looks again, every [`RECHECK`].
use super::Manager;
use berth_model::SessionStatus;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::time::Instant;
use uuid::Uuid;

/// How often a waiter reads the status itself (changes of other replicas, missed wake-ups).
const RECHECK: Duration = Duration::from_millis(50);

impl Manager {
    /// Tells waiters that the session's status changed (when the transition applied).
    pub(super) fn announce(&self, session_id: Uuid, applied: bool) {
        if applied {
            // No receiver is not an error: nobody is waiting.
            let _ = self.status_changes.send(session_id);
        }
    }

    /// Returns once the session's status is no longer `seen` or the session is gone (also
    /// when it cannot be read), or when `within` has passed.
    pub async fn until_status_leaves(
        &self,
        session_id: Uuid,
        seen: SessionStatus,
        within: Duration,
    ) {
        // Subscribed before the first read, so that a change right after it still wakes us.
        let mut changes = self.status_changes.subscribe();
        let deadline = Instant::now() + within;
        loop {
            match self.session_state(session_id).await {
                Ok(row) if row.status == seen => {}
                _ => return,
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let wait = (deadline - now).min(RECHECK);
            let _ = tokio::time::timeout(wait, change_of(&mut changes, session_id)).await;
        }
    }
}

/// The next announced change of `session_id`; after falling behind, or with no sender left,
/// at once (the caller reads the status again).
async fn change_of(changes: &mut Receiver<Uuid>, session_id: Uuid) {
    loop {
        match changes.recv().await {
            Ok(changed) if changed == session_id => return,
            Ok(_) => continue,
            Err(RecvError::Lagged(_) | RecvError::Closed) => return,
        }
    }
}
