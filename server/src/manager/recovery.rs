//! Launches left under way by a replica that stopped (killed, crashed, restarted): taken over
//! by the replica holding the lease.
//!
//! A session in requested, provisioning or starting belongs to the replica named in its
//! `supervisor`; once that replica has not heartbeated for `REPLICA_TIMEOUT`, the session is
//! claimed and finished here:
//! - still queued (provisioning, its launch spec kept): launched again from the queue;
//! - starting: if its container runs and streams, it is running; if not, a first launch fails
//!   with a message and its container is removed, and a start after a stop goes back to
//!   stopped (its files kept);
//! - its agent unreachable: left for the next round.
use super::agent_client::{AgentFailure, ContainerAction};
use super::launch::{endpoint, LaunchSpec};
use super::state::Transition;
use super::Manager;
use berth_model::SessionStatus;
use std::sync::Arc;
use std::time::Duration;
use store::sessions::recovery::Orphan;
use store::StoreError;
use uuid::Uuid;

/// A replica silent for this long is taken as gone.
pub const REPLICA_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a taken-over container may take to stream.
const ADOPT_WAIT: Duration = Duration::from_secs(30);

const INTERRUPTED: &str =
    "Berth restarted during the launch and the desktop did not come up; please launch it again.";

impl Manager {
    /// Claims and finishes the launches of replicas that stopped. Returns how many it took.
    pub async fn recover_interrupted(self: &Arc<Self>) -> Result<usize, StoreError> {
        let orphans = store::sessions::recovery::claim_orphans(
            &self.db,
            self.replica_id,
            REPLICA_TIMEOUT.as_secs_f64(),
        )
        .await?;
        let count = orphans.len();
        for orphan in orphans {
            tracing::warn!(session_id = %orphan.session_id, status = %orphan.status, "taking over an interrupted launch");
            self.take_over(orphan).await;
        }
        Ok(count)
    }

    async fn take_over(self: &Arc<Self>, orphan: Orphan) {
        let session_id = orphan.session_id;
        let spec = orphan
            .spec
            .and_then(|spec| serde_json::from_value::<LaunchSpec>(spec).ok());
        match (orphan.status, orphan.server_id, spec) {
            (SessionStatus::Starting, Some(server_id), _) => {
                self.adopt(session_id, server_id, &orphan.secret, orphan.has_streamed)
                    .await
            }
            (SessionStatus::Requested | SessionStatus::Provisioning, Some(_), Some(spec)) => {
                self.supervise(spec)
            }
            _ => {
                self.record(session_id, &Transition::LaunchFailed(INTERRUPTED.into()))
                    .await;
            }
        }
    }

    /// A session left starting: running if its container streams, otherwise failed (first
    /// launch) or stopped again (a start after a stop).
    async fn adopt(&self, session_id: Uuid, server_id: Uuid, secret: &str, has_streamed: bool) {
        let agent = match self.agent_of(server_id).await {
            Ok(agent) => agent,
            Err(error) => {
                tracing::warn!(%session_id, %error, "cannot reach the session's agent; retrying later");
                return self.release(session_id).await;
            }
        };
        let failure = match self
            .agents
            .adopt(&agent, session_id, secret, ADOPT_WAIT)
            .await
        {
            Ok(created) => {
                self.record(session_id, &Transition::Streaming(endpoint(created)))
                    .await;
                return;
            }
            Err(AgentFailure::Unreachable { .. }) => {
                tracing::warn!(%session_id, host = agent.hostname, "the session's agent does not answer; retrying later");
                return self.release(session_id).await;
            }
            Err(failure) => failure,
        };
        if has_streamed {
            let _ = self
                .agents
                .act(&agent, session_id, ContainerAction::Stop)
                .await;
            let reason = format!("Berth restarted while the desktop was starting again ({failure}); Resume to try again.");
            self.record(session_id, &Transition::StartFailed(reason))
                .await;
        } else {
            self.remove_quietly(server_id, session_id).await;
            self.record(session_id, &Transition::LaunchFailed(INTERRUPTED.into()))
                .await;
        }
    }

    /// Gives a claimed session back, so a later round tries again.
    async fn release(&self, session_id: Uuid) {
        let _ = store::sessions::recovery::release(&self.db, session_id, self.replica_id).await;
    }
}
