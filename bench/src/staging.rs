//! bench/launch --staged: a staging pool for the launched image, filled before each measured
//! launch, so that each takes a ready staged session (the hand-over, not the refill, is timed).
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Stages `desired` sessions of the image (any agent, an hour's expiry).
pub async fn configure(db: &PgPool, image_id: Uuid, desired: i32) -> Result<(), String> {
    let input = store::staging::ConfigInput {
        image_id,
        server_id: None,
        desired,
        expiry_secs: 3600,
    };
    store::staging::create(db, &input)
        .await
        .map(|_| ())
        .map_err(|e| format!("staging config: {e}"))
}

/// Waits until every config has its desired sessions ready and none starting.
pub async fn wait_full(db: &PgPool, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let configs = store::staging::list(db)
            .await
            .map_err(|e| format!("staging counts: {e}"))?;
        if configs
            .iter()
            .all(|c| c.ready >= i64::from(c.desired) && c.starting == 0)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the staging pool did not fill in time".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many of the user's sessions were handed over from the pool, of how many.
pub async fn handed_over(db: &PgPool, user_id: Uuid) -> Result<(i64, i64), String> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE handed_over IS NOT NULL), count(*) FROM sessions WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
    .map_err(|e| format!("hand-overs: {e}"))
}
