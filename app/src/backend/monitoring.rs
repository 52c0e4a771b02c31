//! Admin → Metrics' figures, from the store's monitoring aggregates (the same the
//! `/metrics` scrape reads, plus the last hour's launches).
use crate::model::{AgentFigures, LaunchWindow, MetricsOverview, SessionStatus};
use crate::AppError;
use sqlx::PgPool;

pub async fn overview(db: &PgPool) -> Result<MetricsOverview, AppError> {
    let sessions = store::monitoring::sessions_by_status_and_image(db).await?;
    let agents = store::monitoring::agent_capacity(db).await?;
    let launches = store::monitoring::launches_last_hour(db).await?;
    // Every state a live session may be in, in the order a lifecycle goes through them.
    let sessions = SessionStatus::ALL
        .iter()
        .filter(|state| **state != SessionStatus::Deleted)
        .map(|state| {
            let count = sessions
                .iter()
                .filter(|row| row.status == state.as_str())
                .map(|row| row.count)
                .sum();
            (state.as_str().to_owned(), count)
        })
        .collect();
    Ok(MetricsOverview {
        sessions,
        agents: agents
            .into_iter()
            .map(|agent| AgentFigures {
                hostname: agent.hostname,
                online: agent.online,
                free_cores: agent.free_cores.max(0.0),
                free_memory: agent.free_memory.max(0),
            })
            .collect(),
        launches: launches
            .into_iter()
            .map(|window| LaunchWindow {
                minutes_ago: window.seconds_ago / 60,
                launches: window.launches,
                not_started: window.not_started,
                median_seconds: window.median_seconds,
            })
            .collect(),
    })
}
