//! Open streams (desktop WebSockets and chats) end as soon as the access they were opened with
//! does. Each stream registers who opened it (the user, their sign-in token, the session); a
//! change that can take access away (sign-out, a disabled, locked or deleted account, a new
//! password or role, a viewer removed, sharing turned off, the session ended) is announced by PostgreSQL on the
//! channel `berth_access` (triggers, migrations/20261202000002_access_changes.sql), so every
//! replica hears of it whichever process made it; the replica re-checks that user's (or that
//! session's) streams and ends those no longer allowed. Every [`RECHECK`] all streams are
//! re-checked as well, for announcements missed while the listener reconnected.
use app::backend::{auth, sharing};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The channel the triggers announce on.
pub const CHANNEL: &str = "berth_access";
/// How often every open stream is re-checked regardless of announcements.
pub const RECHECK: Duration = Duration::from_secs(15);

/// What a stream was opened with.
struct Opened {
    user_id: Uuid,
    session_id: Uuid,
    token: String,
    end: Arc<Notify>,
}

pub struct Streams {
    db: PgPool,
    open: Mutex<HashMap<u64, Opened>>,
    next: AtomicU64,
}

/// A stream's place in the registry: `ended()` resolves when its access is gone; dropping it
/// unregisters the stream.
pub struct Registration {
    streams: Arc<Streams>,
    id: u64,
    end: Arc<Notify>,
}

impl Registration {
    pub async fn ended(&self) {
        self.end.notified().await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.streams.lock().remove(&self.id);
    }
}

/// Which streams an announcement concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concerns {
    User(Uuid),
    Session(Uuid),
    All,
}

impl Concerns {
    /// An announcement's payload: a user id, or "session:" and a session id.
    pub fn parse(payload: &str) -> Option<Concerns> {
        match payload.strip_prefix("session:") {
            Some(session_id) => Uuid::parse_str(session_id).ok().map(Concerns::Session),
            None => Uuid::parse_str(payload).ok().map(Concerns::User),
        }
    }

    fn covers(self, opened: &Opened) -> bool {
        match self {
            Concerns::User(user_id) => opened.user_id == user_id,
            Concerns::Session(session_id) => opened.session_id == session_id,
            Concerns::All => true,
        }
    }
}

impl Streams {
    pub fn new(db: PgPool) -> Arc<Streams> {
        Arc::new(Streams {
            db,
            open: Mutex::default(),
            next: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Opened>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a stream `user_id` opened on `session_id` with the sign-in `token`.
    pub fn register(
        self: &Arc<Self>,
        user_id: Uuid,
        session_id: Uuid,
        token: String,
    ) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let end = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Opened {
                user_id,
                session_id,
                token,
                end: end.clone(),
            },
        );
        Registration {
            streams: self.clone(),
            id,
            end,
        }
    }

    /// Streams open now.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Re-checks the streams `concerns` names; ends those whose access is gone. A database
    /// that does not answer ends nothing (the next check decides).
    pub async fn recheck(&self, concerns: Concerns) {
        let candidates: Vec<(u64, Uuid, Uuid, String)> = self
            .lock()
            .iter()
            .filter(|(_, opened)| concerns.covers(opened))
            .map(|(id, o)| (*id, o.user_id, o.session_id, o.token.clone()))
            .collect();
        for (id, user_id, session_id, token) in candidates {
            if let Some(false) = self.still_allowed(user_id, session_id, &token).await {
                let ended = self.lock().remove(&id);
                if let Some(opened) = ended {
                    tracing::info!(%user_id, %session_id, "access gone: ending an open stream");
                    opened.end.notify_one();
                }
            }
        }
    }

    /// Whether the sign-in still holds for the same user, the session has not ended, and they
    /// may still reach it (`None`: the database did not answer).
    async fn still_allowed(&self, user_id: Uuid, session_id: Uuid, token: &str) -> Option<bool> {
        let user = auth::user_for_token(&self.db, token).await.ok()?;
        if user.is_none_or(|user| user.user_id != user_id) {
            return Some(false);
        }
        let status = store::sessions::status_of(&self.db, session_id)
            .await
            .ok()?;
        if status.is_none_or(|status| status.is_over()) {
            return Some(false);
        }
        let access = sharing::access(&self.db, user_id, session_id).await.ok()?;
        Some(access.is_some())
    }

    /// Listens for announcements and re-checks periodically, for the life of the process.
    pub fn spawn_watchers(self: &Arc<Self>) {
        let streams = self.clone();
        tokio::spawn(async move { streams.listen().await });
        let streams = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RECHECK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if streams.count() > 0 {
                    streams.recheck(Concerns::All).await;
                }
            }
        });
    }

    async fn listen(&self) {
        loop {
            let mut listener = match PgListener::connect_with(&self.db).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for access changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(error) = listener.listen(CHANNEL).await {
                tracing::warn!(%error, "cannot listen for access changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Announcements missed while not listening.
            self.recheck(Concerns::All).await;
            loop {
                match listener.recv().await {
                    Ok(notification) => {
                        if let Some(concerns) = Concerns::parse(notification.payload()) {
                            self.recheck(concerns).await;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "lost the access-change listener; reconnecting");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_name_a_user_or_a_session() {
        let id = Uuid::new_v4();
        assert_eq!(Concerns::parse(&id.to_string()), Some(Concerns::User(id)));
        assert_eq!(
            Concerns::parse(&format!("session:{id}")),
            Some(Concerns::Session(id))
        );
        assert_eq!(Concerns::parse("session:nonsense"), None);
        assert_eq!(Concerns::parse(""), None);
    }
}
