//! The manager's periodic work. Every replica heartbeats (so others can tell it is alive);
//! the deployment-wide jobs (offline marking, reaper, recovery of interrupted launches, the
//! staging pool, deleted users' profiles, and once a day the audit log's purge) run on one
//! replica only: the holder of a PostgreSQL advisory lock, held on a connection of its own.
//! When the holder dies its connection closes, PostgreSQL releases the lock, and another
//! replica takes it at its next tick (within one sweep interval).
use super::recovery::REPLICA_TIMEOUT;
use super::{checkin, Manager};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the audit log is purged of entries older than its retention.
pub const AUDIT_PURGE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

impl Manager {
    /// Starts the periodic work: heartbeat, and under the lease offline marking, the reaper
    /// and recovery of interrupted launches.
    pub fn spawn_background(self: &Arc<Self>) {
        let manager = Arc::clone(self);
        tokio::spawn(async move {
            let mut lease = store::replicas::JobsLease::default();
            let mut last_purge: Option<Instant> = None;
            let mut tick = tokio::time::interval(manager.config.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                manager.heartbeat().await;
                if lease.hold(&manager.db).await {
                    manager.run_jobs().await;
                    if last_purge.is_none_or(|at| at.elapsed() >= AUDIT_PURGE_EVERY) {
                        last_purge = Some(Instant::now());
                        manager.purge_audit_log().await;
                    }
                }
            }
        });
    }

    async fn run_jobs(self: &Arc<Self>) {
        if let Err(error) = checkin::mark_silent_agents_offline(&self.db, self.presence()).await {
            tracing::warn!(%error, "could not mark silent agents offline");
        }
        self.reap_expired().await;
        if let Err(error) = self.recover_interrupted().await {
            tracing::warn!(%error, "could not look for interrupted launches");
        }
        self.tend_pool().await;
        self.delete_orphaned_profiles().await;
    }

    /// Deletes the audit log's entries older than its retention (in bounded batches).
    async fn purge_audit_log(&self) {
        match app::backend::audit::purge(&self.db).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "purged old audit log entries"),
            Err(error) => tracing::warn!(%error, "could not purge the audit log"),
        }
    }

    /// Tells the other replicas this one is alive (and forgets replicas long gone).
    async fn heartbeat(&self) {
        let beat =
            store::replicas::heartbeat(&self.db, self.replica_id, &crate::host::host_name()).await;
        if let Err(error) = beat {
            tracing::warn!(%error, "could not heartbeat");
            return;
        }
        let _ = store::replicas::forget_silent(&self.db, REPLICA_TIMEOUT * 20).await;
    }

    /// This replica stops: its heartbeat goes, so another replica (or this one's successor)
    /// takes over its launches at once instead of after the timeout.
    pub async fn retire(&self) {
        let _ = store::replicas::retire(&self.db, self.replica_id).await;
    }
}
