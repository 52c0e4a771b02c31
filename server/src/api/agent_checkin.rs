//! `POST /api/agent/checkin`: an agent's check-in, taken only with its own live credential
//! (`app::backend::agent_credentials`) and under the name that credential was issued for;
//! the manager records it (`manager::checkin`).
use crate::credentials::bearer;
use crate::manager::checkin::{self, VerifiedAgent};
use crate::manager::Manager;
use crate::protocol::{CheckIn, MIN_API_SECRET_LEN};
use app::backend::agent_credentials::{self, Authenticated};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

impl From<Authenticated> for VerifiedAgent {
    fn from(agent: Authenticated) -> Self {
        VerifiedAgent {
            server_id: agent.server_id,
            hostname: agent.hostname,
            credential_hash: agent.credential_hash,
        }
    }
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
    let started = std::time::Instant::now();
    let recorded = checkin::record(manager.db(), &agent.into(), &report).await;
    metrics::histogram!(crate::metrics::names::CHECKIN_DURATION)
        .record(started.elapsed().as_secs_f64());
    match recorded {
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
