//! `POST /api/agent/checkin`: an agent's check-in, taken only with its own live credential
//! (`app::backend::agent_credentials`) and under the name that credential was issued for;
//! the manager checks both and records it in one statement (`manager::checkin`).
use crate::credentials::bearer;
use crate::manager::checkin::{self, PresentedCredential, Refusal};
use crate::manager::Manager;
use crate::protocol::{CheckIn, MIN_API_SECRET_LEN};
use app::backend::agent_credentials::{self, Authenticated};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

impl From<Authenticated> for PresentedCredential {
    fn from(agent: Authenticated) -> Self {
        PresentedCredential {
            server_id: agent.server_id,
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

/// POST /api/agent/checkin: one statement checks the credential, records what changed and
/// reads the answer (`checkin::record`).
pub async fn handle(
    State(manager): State<Arc<Manager>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let presented = bearer(&headers).and_then(agent_credentials::presented);
    let Some((server_id, credential_hash)) = presented else {
        return unknown_credential();
    };
    let report = match read_report(&body) {
        Ok(report) => report,
        Err(problem) => return refuse_report(&manager, &headers, problem).await,
    };
    let agent = PresentedCredential {
        server_id,
        credential_hash,
    };
    let started = std::time::Instant::now();
    let recorded = checkin::record(manager.db(), manager.presence(), &agent, &report).await;
    metrics::histogram!(crate::metrics::names::CHECKIN_DURATION)
        .record(started.elapsed().as_secs_f64());
    match recorded {
        Ok(Ok(reply)) => Json(reply).into_response(),
        Ok(Err(Refusal::Unknown)) => unknown_credential(),
        Ok(Err(Refusal::OtherName(hostname))) => other_name(&hostname, report.name.trim()),
        Err(error) => unavailable(error),
    }
}

fn unknown_credential() -> Response {
    tracing::warn!("refused a check-in with an unknown, revoked or missing agent credential");
    refuse(StatusCode::UNAUTHORIZED, UNKNOWN_CREDENTIAL)
}

fn other_name(hostname: &str, claimed: &str) -> Response {
    tracing::warn!(
        credential_of = hostname,
        claimed,
        "refused a check-in under another agent's name"
    );
    refuse(
        StatusCode::FORBIDDEN,
        &format!(
            "this credential belongs to agent '{hostname}': it cannot check in as '{claimed}' (an \
             agent checks in only under the name its credential was issued for)"
        ),
    )
}

/// The check-in in the body, or what is wrong with it.
fn read_report(body: &[u8]) -> Result<CheckIn, String> {
    let report: CheckIn =
        serde_json::from_slice(body).map_err(|error| format!("malformed check-in: {error}"))?;
    match incomplete(&report) {
        Some(problem) => Err(problem.to_owned()),
        None => Ok(report),
    }
}

/// A check-in that does not read: its problem is told only to a live credential.
async fn refuse_report(manager: &Manager, headers: &HeaderMap, problem: String) -> Response {
    let presented = bearer(headers).unwrap_or_default();
    match agent_credentials::authenticate(manager.db(), presented).await {
        Ok(Some(_)) => refuse(StatusCode::BAD_REQUEST, &problem),
        Ok(None) => unknown_credential(),
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
    if !(1..=MAX_INTERVAL_SECS).contains(&report.interval_secs) {
        return Some("interval_secs must be between 1 and 3600 seconds");
    }
    None
}

/// The longest check-in interval taken: offline marking waits three of them, and the row's
/// interval is a 32-bit number (a larger one wrapped below zero and failed the insert).
const MAX_INTERVAL_SECS: u32 = 3600;
