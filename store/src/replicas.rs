//! The deployment's Berth processes (`replicas`): heartbeats, so each can tell which others
//! are alive, and the lease on the periodic jobs, so one of them runs those.
use crate::StoreError;
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// The advisory lock key of the periodic jobs' lease.
const JOBS_LEASE: i64 = 7302;

/// Records that `replica` (on `hostname`) is alive now.
pub async fn heartbeat(db: &PgPool, replica: Uuid, hostname: &str) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO replicas (replica_id, hostname) VALUES ($1, $2)
           ON CONFLICT (replica_id) DO UPDATE SET last_seen = now()"#,
        replica,
        hostname,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets replicas silent for longer than `silence`.
pub async fn forget_silent(db: &PgPool, silence: Duration) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM replicas WHERE last_seen < now() - make_interval(secs => $1)",
        silence.as_secs_f64()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The replica stops: without its heartbeat, others take over its launches at once.
pub async fn retire(db: &PgPool, replica: Uuid) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM replicas WHERE replica_id = $1", replica)
        .execute(db)
        .await?;
    Ok(())
}

/// The lease on the periodic jobs: a PostgreSQL advisory lock held on a connection of its
/// own. When the holder dies its connection closes, PostgreSQL releases the lock, and
/// another replica takes it at its next try.
#[derive(Default)]
pub struct JobsLease {
    connection: Option<PgConnection>,
    held: bool,
}

impl JobsLease {
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
