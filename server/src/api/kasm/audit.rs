//! The audit layer of the Developer API: every call is recorded (`api:<endpoint>`, the key
//! when it was verified, and how it ended: `ok`, `denied` for a refusal of the key, or
//! `error`), whichever endpoint it was and however it ended. A call that changes something is
//! one row; reads (and unknown endpoints) are counted in one row per key, endpoint, outcome
//! and minute ([`ReadTally`]), so that polling `get_kasm_status` does not write a row a call.
use app::backend::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DurationRound, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::audit::ReadWindow;
use uuid::Uuid;

/// How long read counts gather in memory before they are added to their rows.
pub const READ_FLUSH_AFTER: Duration = Duration::from_secs(2);

/// The layer's state: the app's, and the read counts not written yet.
#[derive(Clone)]
pub struct AuditState {
    pub app: AppState,
    pub reads: Arc<ReadTally>,
}

/// Read calls counted in memory; the first count after a write schedules the next write,
/// [`READ_FLUSH_AFTER`] later (one upsert per window then, however many calls).
#[derive(Default)]
pub struct ReadTally(Mutex<HashMap<ReadWindow, i64>>);

impl ReadTally {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<ReadWindow, i64>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one call; schedules the write when nothing was pending.
    fn count(self: &Arc<Self>, db: &sqlx::PgPool, window: ReadWindow) {
        let first = {
            let mut pending = self.pending();
            let first = pending.is_empty();
            *pending.entry(window).or_default() += 1;
            first
        };
        if first {
            let (tally, db) = (self.clone(), db.clone());
            tokio::spawn(async move {
                tokio::time::sleep(READ_FLUSH_AFTER).await;
                tally.flush(&db).await;
            });
        }
    }

    /// Adds every pending count to its row.
    async fn flush(&self, db: &sqlx::PgPool) {
        let pending = std::mem::take(&mut *self.pending());
        for (window, calls) in pending {
            if let Err(error) = store::audit::count_reads(db, &window, calls).await {
                tracing::error!(%error, action = window.action, calls, "could not write read counts to the audit log");
            }
        }
    }
}

/// The verified key of the call, filled in by the `Call` extractor.
#[derive(Clone, Default)]
pub struct Caller(Arc<Mutex<Option<Uuid>>>);

impl Caller {
    pub fn set(&self, api_key_id: Uuid) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(api_key_id);
    }

    fn get(&self) -> Option<Uuid> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Marks a response that refuses the key (403 `Unauthorized`, or a target it may not reach).
#[derive(Clone, Copy)]
pub struct Denied;

pub async fn layer(State(state): State<AuditState>, mut request: Request, next: Next) -> Response {
    let endpoint = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let caller = Caller::default();
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    let outcome = if response.status().is_success() {
        "ok"
    } else if response.extensions().get::<Denied>().is_some() {
        "denied"
    } else {
        "error"
    };
    let action = format!("api:{endpoint}");
    if !super::need(&endpoint).is_some_and(|need| need.modifies) {
        let window = ReadWindow {
            api_key: caller.get(),
            action,
            outcome,
            window_start: minute_now(),
        };
        state.reads.count(&state.app.db, window);
        return response;
    }
    let entry = store::audit::Entry {
        actor: store::audit::Actor::ApiKey(caller.get()),
        action: &action,
        target: "api",
        outcome,
        details: serde_json::json!({}),
    };
    store::audit::record(&state.app.db, entry).await;
    response
}

/// The start of the current minute.
fn minute_now() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(chrono::Duration::minutes(1))
        .unwrap_or(now)
}
