//! Agents (Docker hosts, the `servers` table) as the manager keeps them: their check-ins,
//! offline marking and the address it reaches each at. Their credentials and the admin's
//! view of them are elsewhere.
use crate::sessions::agent_reports::Placed;
use crate::StoreError;
use sqlx::PgPool;
use uuid::Uuid;

/// Where an agent is reached, and the process that last checked in.
#[derive(Clone)]
pub struct Address {
    pub url: String,
    pub hostname: String,
    /// The instance id of its process as of its last check-in.
    pub instance: Option<Uuid>,
    /// The agent's own API secret (it opens this agent's API only).
    pub api_secret: String,
}

pub async fn address(db: &PgPool, server_id: Uuid) -> Result<Option<Address>, StoreError> {
    Ok(sqlx::query_as!(
        Address,
        r#"SELECT agent_url AS url, hostname, agent_instance AS instance, api_secret
           FROM servers WHERE server_id = $1"#,
        server_id
    )
    .fetch_optional(db)
    .await?)
}

/// What an agent reports about itself at a check-in.
#[derive(Debug, Clone)]
pub struct CheckIn<'a> {
    /// The name the agent checks in under (its credential's, or nothing is written).
    pub name: &'a str,
    pub address: &'a str,
    pub agent_url: &'a str,
    pub cores: f64,
    pub memory: i64,
    pub gpus: i32,
    pub disk_free: i64,
    pub images_present: &'a [String],
    pub images_missing: &'a [String],
    pub version: &'a str,
    pub interval_secs: i32,
    pub instance_id: Option<Uuid>,
    pub api_secret: &'a str,
    /// Whether the check-in's time is kept elsewhere (Redis, `presence`): then an unchanged
    /// check-in leaves the row alone however old its `last_checkin`.
    pub time_kept_elsewhere: bool,
}

/// What a check-in found: whose credential it was, and what the agent is to be answered,
/// read in the statement that recorded it.
#[derive(Debug, Clone)]
pub struct CheckedIn {
    /// The name the credential was issued for (nothing was written when the check-in came
    /// under another).
    pub hostname: String,
    /// Whether the agent has reported for at least two intervals since its process started
    /// (or it came back online).
    pub settled: bool,
    pub deployment_id: Option<String>,
    /// The images the agent should hold: enabled ones not restricted to another agent.
    pub wanted_images: Vec<String>,
    /// The agent's sessions that are not deleted, as their rows say.
    pub sessions: Vec<Placed>,
    /// The volume roots last recorded for the agent (None: never).
    pub volume_roots: Option<Vec<String>>,
    /// Whether the row was written (its `last_checkin` is this check-in's).
    pub written: bool,
}

/// A session row in the check-in's JSON list.
#[derive(Debug, serde::Deserialize)]
struct PlacedRow {
    session_id: Uuid,
    status: berth_model::SessionStatus,
    container_id: Option<String>,
    port: Option<i32>,
    disagreeing_checkins: i32,
}

/// Records a check-in on the agent's row, in one statement that also verifies the credential
/// and reads what the answer needs (the deployment id, the wanted images, the agent's
/// sessions, its recorded volume roots). None when no row has `server_id` with
/// `credential_hash` (unknown, revoked or replaced: a revocation racing a check-in wins);
/// nothing is written unless the row's name is `report.name`.
///
/// A check-in that says nothing new writes nothing: the row is updated only when something
/// reported differs (free disk by more than 5 %) or the agent was not online. Unless the
/// check-in's time is kept elsewhere (`report.time_kept_elsewhere`), the row is also
/// refreshed when its last recorded check-in is older than half the offline threshold
/// ([`mark_offline`]: three intervals), so an agent checking in on time is written every
/// other interval and an agent that stopped is still offline three intervals after its last
/// recorded check-in at most two intervals after it stopped.
pub async fn check_in(
    db: &PgPool,
    server_id: Uuid,
    credential_hash: &[u8],
    report: &CheckIn<'_>,
) -> Result<Option<CheckedIn>, StoreError> {
    // SET expressions read the row as it was, so reporting_since compares the old instance;
    // `current` reads it as it was too (what an unchanged check-in answers). The hash is
    // compared in SQL: it is the SHA-256 of a 256-bit secret, so how long a mismatch takes
    // tells nothing of use.
    let row = sqlx::query!(
        r#"WITH current AS (
               SELECT hostname, reporting_since <= now() - make_interval(secs => checkin_interval * 2) AS settled
               FROM servers WHERE server_id = $1 AND credential_hash = $2
           ), updated AS (
               UPDATE servers SET
                   address = $3, agent_url = $4, status = 'online', cores = $5, memory = $6, gpus = $7,
                   disk_free = $8, images_present = $9, images_missing = $10, version = $11,
                   checkin_interval = $12, last_checkin = now(), agent_instance = $13, api_secret = $14,
                   -- A new agent process (or one back from offline) starts a new reporting period.
                   reporting_since = CASE
                       WHEN agent_instance IS DISTINCT FROM $13 OR status <> 'online' OR reporting_since IS NULL
                       THEN now() ELSE reporting_since END
               WHERE server_id = $1 AND credential_hash = $2 AND hostname = $15 AND (
                   status <> 'online' OR reporting_since IS NULL OR last_checkin IS NULL
                   OR (NOT $16 AND last_checkin < now() - make_interval(secs => checkin_interval * 1.5::float8))
                   OR address IS DISTINCT FROM $3 OR agent_url IS DISTINCT FROM $4 OR cores <> $5 OR memory <> $6 OR gpus <> $7
                   OR abs(disk_free - $8) > abs(disk_free) / 20
                   OR images_present IS DISTINCT FROM $9 OR images_missing IS DISTINCT FROM $10 OR version IS DISTINCT FROM $11
                   OR checkin_interval <> $12 OR agent_instance IS DISTINCT FROM $13 OR api_secret IS DISTINCT FROM $14)
               RETURNING reporting_since <= now() - make_interval(secs => checkin_interval * 2) AS settled
           )
           SELECT c.hostname AS "hostname!",
                  coalesce((SELECT settled FROM updated), c.settled, false) AS "settled!",
                  EXISTS (SELECT 1 FROM updated) AS "written!",
                  (SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id') AS deployment_id,
                  ARRAY(SELECT DISTINCT name FROM images
                        WHERE enabled AND (NOT restrict_to_server OR server_id = $1)) AS "wanted_images!",
                  coalesce((SELECT json_agg(json_build_object(
                                'session_id', session_id, 'status', operational_status,
                                'container_id', container_id, 'port', port,
                                'disagreeing_checkins', disagreeing_checkins))
                            FROM sessions WHERE server_id = $1 AND operational_status <> 'deleted'),
                           '[]'::json) AS "sessions!: sqlx::types::Json<Vec<PlacedRow>>",
                  (SELECT roots FROM agent_volume_roots WHERE server_id = $1) AS volume_roots
           FROM current c"#,
        server_id,
        credential_hash,
        report.address,
        report.agent_url,
        report.cores,
        report.memory,
        report.gpus,
        report.disk_free,
        report.images_present,
        report.images_missing,
        report.version,
        report.interval_secs,
        report.instance_id,
        report.api_secret,
        report.name,
        report.time_kept_elsewhere,
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(CheckedIn {
        hostname: row.hostname,
        settled: row.settled,
        deployment_id: row.deployment_id,
        wanted_images: row.wanted_images,
        sessions: row
            .sessions
            .0
            .into_iter()
            .map(|session| Placed {
                session_id: session.session_id,
                status: session.status,
                container_id: session.container_id,
                port: session.port.and_then(|port| u16::try_from(port).ok()),
                disagreeing_checkins: session.disagreeing_checkins,
            })
            .collect(),
        volume_roots: row.volume_roots,
        written: row.written,
    }))
}

/// Records an unchanged check-in's time on the row when the row's is older than half the
/// offline threshold: what a check-in does when its time could not be kept elsewhere.
pub async fn refresh_last_check_in(db: &PgPool, server_id: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        r#"UPDATE servers SET last_checkin = now()
           WHERE server_id = $1
             AND last_checkin < now() - make_interval(secs => checkin_interval * 1.5::float8)"#,
        server_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// An online agent whose row's last check-in is older than the offline threshold (three
/// intervals): silent, unless its check-ins are kept elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentRow {
    pub server_id: Uuid,
    pub interval_secs: i32,
}

/// The online agents whose rows say they missed three check-ins in a row.
pub async fn silent_rows(db: &PgPool) -> Result<Vec<SilentRow>, StoreError> {
    Ok(sqlx::query_as!(
        SilentRow,
        r#"SELECT server_id, checkin_interval AS interval_secs FROM servers
           WHERE status = 'online' AND last_checkin < now() - make_interval(secs => checkin_interval * 3)"#
    )
    .fetch_all(db)
    .await?)
}

/// Marks offline those of `server_ids` whose rows still say they missed three check-ins in a
/// row (a check-in since [`silent_rows`] that wrote the row keeps its agent online); returns
/// their names.
pub async fn mark_offline(db: &PgPool, server_ids: &[Uuid]) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"UPDATE servers SET status = 'offline'
           WHERE server_id = ANY($1) AND status = 'online'
             AND last_checkin < now() - make_interval(secs => checkin_interval * 3)
           RETURNING hostname"#,
        server_ids
    )
    .fetch_all(db)
    .await?)
}
