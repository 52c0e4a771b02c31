//! Idle disconnect (`idle_disconnect`, the session owner's resolved setting): an owner's
//! desktop stream that carries no input (KeyEvent, PointerEvent, QEMU key event: what the
//! view-only filter reports) for the limit is closed. Bookkeeping is cheap: each stream keeps
//! its last input in memory ([`IdleClock`]) and shares it in Redis (`store::idle`) at most
//! once per [`IdleClock::share_every`] (a minute, less for sub-minute-scale limits), so that
//! the owner's input on one stream (on any replica) keeps their other streams open, and the
//! keepalive (app/src/api/sessions.rs) stops renewing a session whose owner is idle.
use redis::aio::ConnectionManager;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// The close code the browser is told when its stream ends for want of input (the private
/// range of WebSocket close codes).
pub const CLOSE_CODE: u16 = 4000;
pub const CLOSE_REASON: &str = "Disconnected after no input for the idle limit.";

/// One stream's last input, and when it last shared it.
#[derive(Debug, Clone)]
pub struct IdleClock {
    limit: Duration,
    last_input: Instant,
    last_shared: Option<Instant>,
}

impl IdleClock {
    /// A clock for a stream opened at `now` (opening the stream is the owner's doing: it
    /// counts as input).
    pub fn new(limit: Duration, now: Instant) -> Self {
        IdleClock {
            limit,
            last_input: now,
            last_shared: None,
        }
    }

    /// How often at most input is shared: a minute, or a quarter of a shorter limit.
    pub fn share_every(limit: Duration) -> Duration {
        store::idle::share_every(limit)
    }

    /// Notes input at `now`; true when it is to be shared now (the first time, or
    /// [`Self::share_every`] after the last time).
    pub fn input(&mut self, now: Instant) -> bool {
        self.last_input = self.last_input.max(now);
        let due = self
            .last_shared
            .is_none_or(|shared| now.duration_since(shared) >= Self::share_every(self.limit));
        if due {
            self.last_shared = Some(now);
        }
        due
    }

    /// Notes input heard of elsewhere (another stream's, from the shared record).
    pub fn heard_of(&mut self, input: Instant) {
        self.last_input = self.last_input.max(input);
    }

    /// When the stream is to be closed unless input comes first.
    pub fn deadline(&self) -> Instant {
        self.last_input + self.limit
    }

    pub fn is_idle(&self, now: Instant) -> bool {
        now >= self.deadline()
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The instant of a shared record's time (`now` for one in the future).
pub fn instant_of(unix_ms: i64, now: Instant, now_ms: i64) -> Instant {
    let ago = Duration::from_millis(now_ms.saturating_sub(unix_ms).max(0) as u64);
    now.checked_sub(ago).unwrap_or(now)
}

/// A stream's watch of the owner's idleness: its clock and the shared record. On the owner's
/// stream its input counts; on a viewer's it does not (a viewer with control keeps nobody
/// connected), and the stream closes when the owner's do.
pub struct IdleWatch {
    clock: Mutex<IdleClock>,
    redis: ConnectionManager,
    prefix: String,
    session_id: Uuid,
    counts_input: bool,
}

impl IdleWatch {
    pub fn new(
        limit: Duration,
        redis: ConnectionManager,
        prefix: String,
        session_id: Uuid,
    ) -> Self {
        let watch = IdleWatch {
            clock: Mutex::new(IdleClock::new(limit, Instant::now())),
            redis,
            prefix,
            session_id,
            counts_input: true,
        };
        watch.input();
        watch
    }

    /// A viewer's watch: its clock starts at the owner's last shared input (a viewer joining
    /// an idle owner's session is not given a new limit), or now when none is recorded.
    pub async fn for_viewer(
        limit: Duration,
        redis: ConnectionManager,
        prefix: String,
        session_id: Uuid,
    ) -> Self {
        let now = Instant::now();
        let mut shared = redis.clone();
        let last = match store::idle::last_input(&mut shared, &prefix, session_id).await {
            Ok(Some(at)) => instant_of(at, now, unix_ms_now()),
            _ => now,
        };
        IdleWatch {
            clock: Mutex::new(IdleClock::new(limit, last)),
            redis,
            prefix,
            session_id,
            counts_input: false,
        }
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, IdleClock> {
        self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes the owner's input now, sharing it in the background when due (a viewer's input is
    /// not the owner's: ignored).
    pub fn input(&self) {
        if !self.counts_input || !self.clock().input(Instant::now()) {
            return;
        }
        let (mut redis, prefix, session_id) =
            (self.redis.clone(), self.prefix.clone(), self.session_id);
        tokio::spawn(async move {
            let _ = store::idle::record_input(&mut redis, &prefix, session_id, unix_ms_now()).await;
        });
    }

    /// Resolves once the owner has sent no input, on this stream nor (as far as the shared
    /// record tells) on any other, for the limit.
    pub async fn idled_out(&self) {
        loop {
            let deadline = self.clock().deadline();
            tokio::time::sleep_until(deadline.into()).await;
            let mut redis = self.redis.clone();
            if let Ok(Some(shared)) =
                store::idle::last_input(&mut redis, &self.prefix, self.session_id).await
            {
                let at = instant_of(shared, Instant::now(), unix_ms_now());
                self.clock().heard_of(at);
            }
            if self.clock().is_idle(Instant::now()) {
                tracing::info!(session_id = %self.session_id, "no input for the idle limit: disconnecting the stream");
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "idle_tests.rs"]
mod tests;
