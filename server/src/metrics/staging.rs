//! The staging pool's figures: hand-overs as they happen (counted here), and at each scrape
//! the ready, starting and used (handed over, not yet deleted) sessions of each config.
use super::names::{STAGED_SESSIONS, STAGING_HAND_OVERS};
use metrics::{counter, gauge};
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Mutex;

/// One launch took a staged session (`handed`), or took one that could not be handed over.
pub fn count_hand_over(handed: bool) {
    let outcome = if handed { "handed_over" } else { "failed" };
    counter!(STAGING_HAND_OVERS, "outcome" => outcome).increment(1);
}

/// (image, agent or "any") label pairs given at the previous scrape.
static SEEN: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);

/// Sets `berth_staged_sessions` from the configs' counts; configs gone are set to zero.
pub async fn refresh(db: &PgPool) {
    let configs = match store::staging::list(db).await {
        Ok(configs) => configs,
        Err(error) => return tracing::warn!(%error, "metrics: the staging figures are not current"),
    };
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    let now: HashSet<(String, String)> = configs
        .iter()
        .map(|c| {
            let server = c.server_name.clone().unwrap_or_else(|| "any".into());
            (c.image_name.clone(), server)
        })
        .collect();
    for (image, server) in seen.difference(&now) {
        for state in ["ready", "starting", "used"] {
            gauge!(STAGED_SESSIONS, "image" => image.clone(), "server" => server.clone(), "state" => state)
                .set(0.0);
        }
    }
    for config in &configs {
        let server = config.server_name.clone().unwrap_or_else(|| "any".into());
        for (state, count) in [
            ("ready", config.ready),
            ("starting", config.starting),
            ("used", config.used),
        ] {
            gauge!(STAGED_SESSIONS, "image" => config.image_name.clone(), "server" => server.clone(), "state" => state)
                .set(count as f64);
        }
    }
    *seen = now;
}
