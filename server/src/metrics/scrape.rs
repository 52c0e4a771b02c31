//! The figures read at each scrape: sessions by state and image, agents and their free
//! capacity (from the database, deployment-wide), and this replica's connection pool. A label
//! set seen before but absent now (the last session of an image ended) is set to zero rather
//! than left at its last value.
use super::names;
use metrics::gauge;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Mutex;

/// Label sets each deployment-wide gauge was given at the previous scrape.
#[derive(Default)]
struct Seen {
    sessions: HashSet<(String, String)>,
    agents: HashSet<String>,
}

static SEEN: Mutex<Option<Seen>> = Mutex::new(None);

/// Brings the scrape-time gauges up to date. A database that does not answer leaves them
/// as they were (and is counted in `berth_db_unavailable_total`).
pub async fn refresh(db: &PgPool) {
    pool_gauges(db);
    super::staging::refresh(db).await;
    let (sessions, agents) = match tokio::try_join!(
        store::monitoring::sessions_by_status_and_image(db),
        store::monitoring::agent_capacity(db),
    ) {
        Ok(figures) => figures,
        Err(error) => {
            tracing::warn!(%error, "metrics: the database's figures are not current");
            return;
        }
    };
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen = seen.get_or_insert_with(Seen::default);

    let now: HashSet<(String, String)> = sessions
        .iter()
        .map(|row| (row.status.clone(), row.image.clone()))
        .collect();
    for (status, image) in seen.sessions.difference(&now) {
        gauge!(names::SESSIONS, "status" => status.clone(), "image" => image.clone()).set(0.0);
    }
    for row in &sessions {
        gauge!(names::SESSIONS, "status" => row.status.clone(), "image" => row.image.clone())
            .set(row.count as f64);
    }
    seen.sessions = now;

    let now: HashSet<String> = agents.iter().map(|agent| agent.hostname.clone()).collect();
    for hostname in seen.agents.difference(&now) {
        gauge!(names::AGENT_FREE_CORES, "hostname" => hostname.clone()).set(0.0);
        gauge!(names::AGENT_FREE_MEMORY, "hostname" => hostname.clone()).set(0.0);
    }
    for agent in &agents {
        let (cores, memory) = if agent.online {
            (agent.free_cores.max(0.0), agent.free_memory.max(0) as f64)
        } else {
            (0.0, 0.0)
        };
        gauge!(names::AGENT_FREE_CORES, "hostname" => agent.hostname.clone()).set(cores);
        gauge!(names::AGENT_FREE_MEMORY, "hostname" => agent.hostname.clone()).set(memory);
    }
    gauge!(names::AGENTS_ONLINE).set(agents.iter().filter(|agent| agent.online).count() as f64);
    seen.agents = now;
}

fn pool_gauges(db: &PgPool) {
    let idle = db.num_idle() as f64;
    let open = db.size() as f64;
    gauge!(names::DB_CONNECTIONS, "state" => "idle").set(idle);
    gauge!(names::DB_CONNECTIONS, "state" => "in_use").set((open - idle).max(0.0));
}
