//! Agent check-ins: the registry of servers, offline marking, and reconciliation.
use super::reports::{self, Absence, LiveSession};
use super::{state, Manager};
use crate::protocol::{CheckIn, CheckInReply};
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

/// POST /api/agent/checkin
pub async fn handle(
    State(manager): State<Arc<Manager>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !bearer(&headers).is_some_and(|token| token_matches(token, manager.agent_token())) {
        tracing::warn!("refused a check-in with a wrong or missing agent token");
        return refuse(StatusCode::UNAUTHORIZED, "unknown agent token");
    }
    let report: CheckIn = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("malformed check-in: {error}"),
            )
        }
    };
    if report.name.trim().is_empty() || report.agent_url.trim().is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a check-in needs a name and an agent_url",
        );
    }
    match record(manager.db(), &report).await {
        Ok(reply) => Json(reply).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not record a check-in");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the manager cannot reach its database",
            )
        }
    }
}

/// Records a check-in, follows what it says about each session, and works out what the agent
/// should know.
pub async fn record(db: &PgPool, report: &CheckIn) -> Result<CheckInReply, sqlx::Error> {
    let server = sqlx::query!(
        r#"INSERT INTO servers (server_id, hostname, address, agent_url, status, cores, memory, gpus, disk_free,
                                images_present, images_missing, version, checkin_interval, last_checkin,
                                agent_instance, reporting_since)
           VALUES ($1, $2, $3, $4, 'online', $5, $6, $7, $8, $9, $10, $11, $12, now(), $13, now())
           ON CONFLICT (hostname) DO UPDATE SET
               address = EXCLUDED.address, agent_url = EXCLUDED.agent_url, status = 'online',
               cores = EXCLUDED.cores, memory = EXCLUDED.memory, gpus = EXCLUDED.gpus,
               disk_free = EXCLUDED.disk_free, images_present = EXCLUDED.images_present,
               images_missing = EXCLUDED.images_missing, version = EXCLUDED.version,
               checkin_interval = EXCLUDED.checkin_interval, last_checkin = now(),
               agent_instance = EXCLUDED.agent_instance,
               -- A new agent process (or one back from offline) starts a new reporting period.
               reporting_since = CASE
                   WHEN servers.agent_instance IS DISTINCT FROM EXCLUDED.agent_instance
                        OR servers.status <> 'online' OR servers.reporting_since IS NULL
                   THEN now() ELSE servers.reporting_since END
           RETURNING server_id,
                     reporting_since <= now() - make_interval(secs => checkin_interval * 2) AS "settled!""#,
        Uuid::new_v4(),
        report.name.trim(),
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
    )
    .fetch_one(db)
    .await?;
    let server_id = server.server_id;
    let deployment_id =
        sqlx::query_scalar!("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(db)
            .await?
            .unwrap_or_default();
    let owner = format!("{}@{deployment_id}", report.name.trim());
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
    Ok(CheckInReply {
        server_id,
        known_kasms,
        wanted_images,
        deployment_id,
    })
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
