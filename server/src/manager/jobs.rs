//! The manager's periodic work. Every replica heartbeats (so others can tell it is alive);
//! the deployment-wide jobs (offline marking, reaper, recovery of interrupted launches) run
//! on one replica only: the holder of a PostgreSQL advisory lock, held on a connection of its
//! own. When the holder dies its connection closes, PostgreSQL releases the lock, and another
//! replica takes it at its next tick (within one sweep interval).
use super::recovery::REPLICA_TIMEOUT;
use super::{checkin, Manager};
use sqlx::{Connection, PgConnection, PgPool};
use std::sync::Arc;

/// The advisory lock key of the periodic jobs' lease.
const JOBS_LEASE: i64 = 7302;

/// The lease on the periodic jobs: a dedicated connection and whether it holds the lock.
#[derive(Default)]
pub struct Lease {
    connection: Option<PgConnection>,
    held: bool,
}

impl Lease {
    /// Whether this replica holds the lease now, taking it when free. A broken connection
    /// loses it (PostgreSQL has released the lock with the connection).
    pub async fn hold(&mut self, db: &PgPool) -> bool {
        if self.connection.is_none() {
            match db.acquire().await {
                Ok(connection) => self.connection = Some(connection.detach()),
                Err(error) => {
                    tracing::warn!(%error, "no database connection for the jobs' lease");
                    return false;
                }
            }
        }
        let connection = self.connection.as_mut().expect("set above");
        let answer = if self.held {
            connection.ping().await.map(|()| true)
        } else {
            sqlx::query_scalar!("SELECT pg_try_advisory_lock($1)", JOBS_LEASE)
                .fetch_one(&mut *connection)
                .await
                .map(|taken| taken.unwrap_or(false))
        };
        match answer {
            Ok(held) => {
                if held && !self.held {
                    tracing::info!("this replica now runs the periodic jobs");
                }
                self.held = held;
            }
            Err(error) => {
                if self.held {
                    tracing::warn!(%error, "lost the periodic jobs' lease with its connection");
                }
                self.held = false;
                self.connection = None;
            }
        }
        self.held
    }
}

impl Manager {
    /// Starts the periodic work: heartbeat, and under the lease offline marking, the reaper
    /// and recovery of interrupted launches.
    pub fn spawn_background(self: &Arc<Self>) {
        let manager = Arc::clone(self);
        tokio::spawn(async move {
            let mut lease = Lease::default();
            let mut tick = tokio::time::interval(manager.config.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                manager.heartbeat().await;
                if lease.hold(&manager.db).await {
                    manager.run_jobs().await;
                }
            }
        });
    }

    async fn run_jobs(self: &Arc<Self>) {
        if let Err(error) = checkin::mark_silent_agents_offline(&self.db).await {
            tracing::warn!(%error, "could not mark silent agents offline");
        }
        self.reap_expired().await;
        if let Err(error) = self.recover_interrupted().await {
            tracing::warn!(%error, "could not look for interrupted launches");
        }
    }

    /// Tells the other replicas this one is alive (and forgets replicas long gone).
    async fn heartbeat(&self) {
        let beat = sqlx::query!(
            r#"INSERT INTO replicas (replica_id, hostname) VALUES ($1, $2)
               ON CONFLICT (replica_id) DO UPDATE SET last_seen = now()"#,
            self.replica_id,
            crate::agent::host_name(),
        )
        .execute(&self.db)
        .await;
        if let Err(error) = beat {
            tracing::warn!(%error, "could not heartbeat");
            return;
        }
        let _ = sqlx::query!(
            "DELETE FROM replicas WHERE last_seen < now() - make_interval(secs => $1)",
            (REPLICA_TIMEOUT * 20).as_secs_f64()
        )
        .execute(&self.db)
        .await;
    }

    /// This replica stops: its heartbeat goes, so another replica (or this one's successor)
    /// takes over its launches at once instead of after the timeout.
    pub async fn retire(&self) {
        let _ = sqlx::query!(
            "DELETE FROM replicas WHERE replica_id = $1",
            self.replica_id
        )
        .execute(&self.db)
        .await;
    }
}
