//! Read-only aggregates for monitoring (`GET /metrics` and Admin → Metrics): sessions by
//! state and image, each agent's state and free capacity. Computed from the database at each
//! scrape, so every replica reports the same deployment-wide figures.
use crate::StoreError;
use sqlx::PgPool;

/// How many sessions of one image are in one state (sessions ended in `deleted` not counted).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCount {
    pub status: String,
    pub image: String,
    pub count: i64,
}

pub async fn sessions_by_status_and_image(db: &PgPool) -> Result<Vec<SessionCount>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT k.operational_status AS "status!", COALESCE(i.friendly_name, '(removed image)') AS "image!",
                  count(*) AS "count!"
           FROM sessions k LEFT JOIN images i ON i.image_id = k.image_id
           WHERE k.operational_status <> 'deleted'
           GROUP BY 1, 2 ORDER BY 1, 2"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionCount {
            status: row.status,
            image: row.image,
            count: row.count,
        })
        .collect())
}

/// One agent as monitoring sees it: whether it is online and what placement may still give it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentCapacity {
    pub hostname: String,
    pub online: bool,
    pub free_cores: f64,
    pub free_memory: i64,
}

pub async fn agent_capacity(db: &PgPool) -> Result<Vec<AgentCapacity>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT s.hostname, s.status = 'online' AND s.enabled AS "online!",
                  COALESCE(s.cores_override, s.cores) - COALESCE(SUM(k.cores), 0) AS "free_cores!",
                  (COALESCE(s.memory_override, s.memory) - COALESCE(SUM(k.memory), 0))::int8 AS "free_memory!"
           FROM servers s
           LEFT JOIN sessions k ON k.server_id = s.server_id AND k.operational_status <> 'deleted'
           GROUP BY s.server_id ORDER BY s.hostname"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AgentCapacity {
            hostname: row.hostname,
            online: row.online,
            free_cores: row.free_cores,
            free_memory: row.free_memory,
        })
        .collect())
}

/// Launches requested in one five-minute window: how many, how many ended before their
/// desktop streamed (failed or deleted while starting), and the median time to a streaming
/// desktop of those that got there.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchWindow {
    /// Seconds from the window's start to now.
    pub seconds_ago: i64,
    pub launches: i64,
    pub not_started: i64,
    pub median_seconds: Option<f64>,
}

/// The last hour's launches in twelve five-minute windows, oldest first (empty windows
/// included, so a chart's time axis is even).
pub async fn launches_last_hour(db: &PgPool) -> Result<Vec<LaunchWindow>, StoreError> {
    let rows = sqlx::query!(
        r#"WITH windows AS (
               SELECT generate_series(0, 11) AS n
           ), anchor AS (
               SELECT date_bin('5 minutes', now(), TIMESTAMPTZ '2000-01-01') AS latest
           )
           SELECT EXTRACT(EPOCH FROM now() - (anchor.latest - w.n * interval '5 minutes'))::int8 AS "seconds_ago!",
                  count(k.session_id) AS "launches!",
                  count(k.session_id) FILTER (WHERE k.start_date IS NULL AND k.operational_status IN ('deleting', 'deleted')) AS "not_started!",
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM k.start_date - k.created_date)::float8)
                      FILTER (WHERE k.start_date IS NOT NULL) AS "median_seconds"
           FROM windows w CROSS JOIN anchor
           LEFT JOIN sessions k ON k.created_date >= anchor.latest - w.n * interval '5 minutes'
                            AND k.created_date < anchor.latest - (w.n - 1) * interval '5 minutes'
           GROUP BY w.n, anchor.latest
           ORDER BY w.n DESC"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| LaunchWindow {
            seconds_ago: row.seconds_ago,
            launches: row.launches,
            not_started: row.not_started,
            median_seconds: row.median_seconds,
        })
        .collect())
}
