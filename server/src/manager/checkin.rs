//! Agent check-ins: the registry of servers, offline marking, and reconciliation.
use super::Manager;
use crate::protocol::{CheckIn, CheckInReply};
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

/// Records a check-in and works out what the agent should know.
pub async fn record(db: &PgPool, report: &CheckIn) -> Result<CheckInReply, sqlx::Error> {
    let server_id = sqlx::query_scalar!(
        r#"INSERT INTO servers (server_id, hostname, address, agent_url, status, cores, memory, gpus, disk_free,
                                images_present, images_missing, version, checkin_interval, last_checkin)
           VALUES ($1, $2, $3, $4, 'online', $5, $6, $7, $8, $9, $10, $11, $12, now())
           ON CONFLICT (hostname) DO UPDATE SET
               address = EXCLUDED.address, agent_url = EXCLUDED.agent_url, status = 'online',
               cores = EXCLUDED.cores, memory = EXCLUDED.memory, gpus = EXCLUDED.gpus,
               disk_free = EXCLUDED.disk_free, images_present = EXCLUDED.images_present,
               images_missing = EXCLUDED.images_missing, version = EXCLUDED.version,
               checkin_interval = EXCLUDED.checkin_interval, last_checkin = now()
           RETURNING server_id"#,
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
    )
    .fetch_one(db)
    .await?;

    // Sessions whose container is gone (not merely not yet created) end here.
    let present: Vec<Uuid> = report.sessions.iter().map(|s| s.kasm_id).collect();
    let grace = f64::from(report.interval_secs.max(1) * 2 + 5);
    let vanished = sqlx::query_scalar!(
        r#"UPDATE kasms SET operational_status = 'deleted', destroyed_date = now(),
                            operational_message = 'The session''s container disappeared.'
           WHERE server_id = $1 AND operational_status IN ('running', 'paused', 'stopped')
             AND start_date < now() - make_interval(secs => $3) AND NOT (kasm_id = ANY($2))
           RETURNING kasm_id"#,
        server_id,
        &present,
        grace,
    )
    .fetch_all(db)
    .await?;
    for kasm_id in vanished {
        tracing::warn!(%kasm_id, server = report.name, "session container vanished; marked deleted");
    }

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
    let deployment_id =
        sqlx::query_scalar!("SELECT value #>> '{}' FROM settings WHERE name = 'deployment_id'")
            .fetch_one(db)
            .await?
            .unwrap_or_default();
    Ok(CheckInReply {
        server_id,
        known_kasms,
        wanted_images,
        deployment_id,
    })
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
