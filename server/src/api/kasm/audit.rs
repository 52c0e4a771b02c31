//! The audit layer of the Developer API: every call is recorded once (`api:<endpoint>`, the
//! key when it was verified, and how it ended: `ok`, `denied` for a refusal of the key, or
//! `error`), whichever endpoint it was and however it ended.
use app::backend::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

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

pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
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
    let entry = store::audit::Entry {
        actor: store::audit::Actor::ApiKey(caller.get()),
        action: &action,
        target: "api",
        outcome,
        details: serde_json::json!({}),
    };
    store::audit::record(&state.db, entry).await;
    response
}
