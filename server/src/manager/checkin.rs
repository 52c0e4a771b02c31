//! Agent check-ins: the registry of servers, offline marking, and reconciliation. Each agent
//! authenticates with its own credential (`app::backend::agent_credentials`), which is bound
//! to one server row: a check-in updates that row only, and one under another name is refused.
use super::reports::{self, Absence, LiveSession};
use super::{state, Manager};
use crate::protocol::{CheckIn, CheckInReply, MIN_API_SECRET_LEN};
use app::backend::agent_credentials::{self, Authenticated};
use app::model::SessionStatus;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Compares the presented token with ours in constant time (hashing first makes the lengths
/// equal, so the comparison reveals nothing about length either).
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.ct_eq(&expected).into()
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

const UNKNOWN_CREDENTIAL: &str = "unknown or revoked agent credential: issue this agent its own \
     in Admin → Servers (Add server, or New credential on its row) and give it to `berth agent` \
     with --token-file or BERTH_AGENT_TOKEN";

fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "could not record a check-in");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "the manager cannot reach its database",
    )
}

/// POST /api/agent/checkin
pub async fn handle(
    State(manager): State<Arc<Manager>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let agent = match bearer(&headers) {
        Some(presented) => match agent_credentials::authenticate(manager.db(), presented).await {
            Ok(agent) => agent,
            Err(error) => return unavailable(error),
        },
        None => None,
    };
    let Some(agent) = agent else {
        tracing::warn!("refused a check-in with an unknown, revoked or missing agent credential");
        return refuse(StatusCode::UNAUTHORIZED, UNKNOWN_CREDENTIAL);
    };
    let report: CheckIn = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("malformed check-in: {error}"),
            )
        }
    };
    if let Some(problem) = incomplete(&report) {
        return refuse(StatusCode::BAD_REQUEST, problem);
    }
    if report.name.trim() != agent.hostname {
        tracing::warn!(
            credential_of = agent.hostname,
            claimed = report.name.trim(),
            "refused a check-in under another agent's name"
        );
        return refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "this credential belongs to agent '{}': it cannot check in as '{}' (an agent checks \
                 in only under the name its credential was issued for)",
                agent.hostname,
                report.name.trim()
            ),
        );
    }
    match record(manager.db(), &agent, &report).await {
        Ok(Some(reply)) => Json(reply).into_response(),
        Ok(None) => refuse(StatusCode::UNAUTHORIZED, UNKNOWN_CREDENTIAL),
        Err(error) => unavailable(error),
    }
}

/// What a check-in lacks, if anything.
fn incomplete(report: &CheckIn) -> Option<&'static str> {
    if report.name.trim().is_empty() || report.agent_url.trim().is_empty() {
        return Some("a check-in needs a name and an agent_url");
    }
    if report.api_secret.len() < MIN_API_SECRET_LEN {
        return Some(
            "a check-in needs the agent's api_secret (at least 32 characters): is the agent older \
             than this server? Run the same Berth version on both",
        );
    }
    None
}

/// Records a check-in on the agent's own row, follows what it says about each session, and
/// works out what the agent should know. None when the credential was revoked meanwhile.
pub async fn record(
    db: &PgPool,
    agent: &Authenticated,
    report: &CheckIn,
) -> Result<Option<CheckInReply>, sqlx::Error> {
    // SET expressions read the row as it was, so reporting_since compares the old instance.
    let Some(server) = sqlx::query!(
        r#"UPDATE servers SET
               address = $3, agent_url = $4, status = 'online', cores = $5, memory = $6, gpus = $7,
               disk_free = $8, images_present = $9, images_missing = $10, version = $11,
               checkin_interval = $12, last_checkin = now(), agent_instance = $13, api_secret = $14,
               -- A new agent process (or one back from offline) starts a new reporting period.
               reporting_since = CASE
                   WHEN agent_instance IS DISTINCT FROM $13 OR status <> 'online' OR reporting_since IS NULL
                   THEN now() ELSE reporting_since END
           WHERE server_id = $1 AND credential_hash = $2
           RETURNING server_id,
                     reporting_since <= now() - make_interval(secs => checkin_interval * 2) AS "settled!""#,
        agent.server_id,
        agent.credential_hash,
        report.address,
        report.agent_url,
        report.cores,
        report.memory,
        report.gpus,
        report.disk_free,
        &report.images_present,
        &report.images_missing,
        report.version,
        report.interval_secs.max(1) as i32,
        report.instance_id,
        report.api_secret,
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let server_id = server.server_id;
    let deployment_id =
        sqlx::query_scalar!("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(db)
            .await?
            .unwrap_or_default();
    let owner = format!("{}@{deployment_id}", agent.hostname);
    follow_reports(db, server_id, report, &owner, server.settled).await?;

    let known_kasms = sqlx::query_scalar!(
        "SELECT kasm_id FROM kasms WHERE server_id = $1 AND operational_status <> 'deleted'",
        server_id
    )
    .fetch_all(db)
    .await?;
    let wanted_images = sqlx::query_scalar!(
        "SELECT DISTINCT name FROM images WHERE enabled AND (NOT restrict_to_server OR server_id = $1)",
        server_id
    )
    .fetch_all(db)
    .await?;
    Ok(Some(CheckInReply {
        server_id,
        known_kasms,
        wanted_images,
        deployment_id,
    }))
}

/// Moves each of the agent's sessions as its report says (exited, vanished, moved, paused
/// outside Berth) and keeps the absence counters.
async fn follow_reports(
    db: &PgPool,
    server_id: Uuid,
    report: &CheckIn,
    owner: &str,
    settled: bool,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT kasm_id, operational_status AS "status: SessionStatus", container_id, port, absent_checkins
           FROM kasms
           WHERE server_id = $1 AND operational_status IN ('running', 'paused', 'stopped')"#,
        server_id
    )
    .fetch_all(db)
    .await?;
    let (mut counted, mut reset) = (Vec::new(), Vec::new());
    for row in rows {
        let session = LiveSession {
            kasm_id: row.kasm_id,
            status: row.status,
            container_id: row.container_id,
            port: row.port.and_then(|port| u16::try_from(port).ok()),
            absent_checkins: row.absent_checkins,
        };
        let found = reports::report_for(&session, &report.sessions, owner);
        let verdict = reports::assess(&session, found, settled, &report.address);
        match verdict.absence {
            Absence::Count => counted.push(session.kasm_id),
            Absence::Reset => reset.push(session.kasm_id),
            Absence::Keep => {}
        }
        if let Some(transition) = verdict.transition {
            tracing::warn!(kasm_id = %session.kasm_id, server = report.name, ?transition, "the agent's report changes the session");
            state::apply(db, session.kasm_id, &transition).await?;
        }
    }
    if !counted.is_empty() {
        sqlx::query!(
            "UPDATE kasms SET absent_checkins = absent_checkins + 1 WHERE kasm_id = ANY($1) AND operational_status <> 'deleted'",
            &counted
        )
        .execute(db)
        .await?;
    }
    if !reset.is_empty() {
        sqlx::query!(
            "UPDATE kasms SET absent_checkins = 0 WHERE kasm_id = ANY($1)",
            &reset
        )
        .execute(db)
        .await?;
    }
    Ok(())
}

/// Agents that missed three check-ins in a row are offline.
pub async fn mark_silent_agents_offline(db: &PgPool) -> Result<(), sqlx::Error> {
    let gone = sqlx::query_scalar!(
        r#"UPDATE servers SET status = 'offline'
           WHERE status = 'online' AND last_checkin < now() - make_interval(secs => checkin_interval * 3)
           RETURNING hostname"#
    )
    .fetch_all(db)
    .await?;
    for hostname in gone {
        tracing::warn!(hostname, "agent missed three check-ins; marked offline");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
    }
}
