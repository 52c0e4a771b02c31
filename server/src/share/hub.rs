//! One per server process: fans Redis pub/sub out to this process's chat sockets, and re-checks
//! its viewers' desktop connections when sharing changes anywhere.
use app::backend::sharing::{self, Access};
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

/// A viewer's open desktop connection in this process.
pub struct Watcher {
    pub id: u64,
    pub user_id: Uuid,
    /// Whether the viewer currently controls the desktop (input passes).
    pub control: Arc<AtomicBool>,
    /// Notified when the viewer lost access: the connection ends.
    pub kill: Arc<Notify>,
}

pub struct ShareHub {
    pub db: PgPool,
    pub redis: ConnectionManager,
    client: redis::Client,
    pub prefix: String,
    chats: Mutex<HashMap<Uuid, broadcast::Sender<Arc<str>>>>,
    watchers: Mutex<HashMap<Uuid, Vec<Arc<Watcher>>>>,
    next_id: AtomicU64,
}

impl ShareHub {
    pub fn new(
        db: PgPool,
        redis_url: &str,
        redis: ConnectionManager,
        prefix: String,
    ) -> Result<Arc<ShareHub>, String> {
        let client = redis::Client::open(redis_url).map_err(|error| error.to_string())?;
        let hub = Arc::new(ShareHub {
            db,
            redis,
            client,
            prefix,
            chats: Mutex::default(),
            watchers: Mutex::default(),
            next_id: AtomicU64::new(1),
        });
        let listener = hub.clone();
        tokio::spawn(async move { listener.listen().await });
        Ok(hub)
    }

    pub fn chat_channel(&self, session_id: Uuid) -> String {
        format!("{}chat:{session_id}", self.prefix)
    }

    pub fn presence_key(&self, session_id: Uuid) -> String {
        format!("{}presence:{session_id}", self.prefix)
    }

    /// This process's feed of a session's chat events.
    pub fn subscribe(&self, session_id: Uuid) -> broadcast::Receiver<Arc<str>> {
        let mut chats = self.chats.lock().unwrap();
        chats.retain(|_, sender| sender.receiver_count() > 0);
        chats
            .entry(session_id)
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn watch(&self, session_id: Uuid, user_id: Uuid, control: bool) -> Arc<Watcher> {
        let watcher = Arc::new(Watcher {
            id: self.next_id(),
            user_id,
            control: Arc::new(AtomicBool::new(control)),
            kill: Arc::new(Notify::new()),
        });
        self.watchers
            .lock()
            .unwrap()
            .entry(session_id)
            .or_default()
            .push(watcher.clone());
        watcher
    }

    pub fn unwatch(&self, session_id: Uuid, id: u64) {
        let mut watchers = self.watchers.lock().unwrap();
        if let Some(list) = watchers.get_mut(&session_id) {
            list.retain(|w| w.id != id);
            if list.is_empty() {
                watchers.remove(&session_id);
            }
        }
    }

    /// Re-checks every viewer connection to the session in this process.
    async fn recheck(&self, session_id: Uuid) {
        let watchers: Vec<Arc<Watcher>> = self
            .watchers
            .lock()
            .unwrap()
            .get(&session_id)
            .cloned()
            .unwrap_or_default();
        for watcher in watchers {
            match sharing::access(&self.db, watcher.user_id, session_id).await {
                Ok(Some(Access::Viewer { control })) => {
                    watcher.control.store(control, Ordering::SeqCst)
                }
                Ok(Some(Access::Owner)) => watcher.control.store(true, Ordering::SeqCst),
                Ok(None) => {
                    tracing::info!(%session_id, user_id = %watcher.user_id, "viewer lost access; disconnecting");
                    watcher.kill.notify_one();
                }
                Err(error) => tracing::warn!(%error, "could not re-check a viewer"),
            }
        }
        // Chat sockets re-check too.
        self.deliver(session_id, Arc::from(r#"{"type":"recheck"}"#));
    }

    fn deliver(&self, session_id: Uuid, payload: Arc<str>) {
        if let Some(sender) = self.chats.lock().unwrap().get(&session_id) {
            let _ = sender.send(payload);
        }
    }

    /// Listens to Redis for chat messages and sharing changes, reconnecting when it drops.
    async fn listen(self: Arc<Self>) {
        let events = sharing::events_channel(&self.prefix);
        let pattern = format!("{}chat:*", self.prefix);
        let chat_prefix = format!("{}chat:", self.prefix);
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&events).await.is_ok()
                        && pubsub.psubscribe(&pattern).await.is_ok()
                    {
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let channel = message.get_channel_name().to_owned();
                            let Ok(payload) = message.get_payload::<String>() else {
                                continue;
                            };
                            if channel == events {
                                if let Ok(session_id) = payload.parse() {
                                    self.recheck(session_id).await;
                                }
                            } else if let Some(Ok(session_id)) =
                                channel.strip_prefix(&chat_prefix).map(str::parse)
                            {
                                self.deliver(session_id, Arc::from(payload));
                            }
                        }
                    }
                    tracing::warn!(
                        "lost the Redis subscription for chat and sharing; reconnecting"
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot subscribe to Redis for chat and sharing; retrying")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
