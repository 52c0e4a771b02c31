//! Agent check-ins: the registry of servers, offline marking, and reconciliation. Each agent
//! authenticates with its own credential, bound to one server row (verified by the check-in
//! endpoint, `api::agent_checkin`, in the statement that records the check-in): a check-in
//! updates that row only.
use super::presence::{self, AgentPresence, Evidence};
use super::reports::{self, LiveSession, Tally};
use super::state;
use crate::protocol::{CheckIn, CheckInReply};
use berth_model::SessionStatus;
use sqlx::PgPool;
use store::StoreError;
use uuid::Uuid;

/// The credential an agent presented: the row it names and the SHA-256 of its secret. The
/// check-in's own statement matches it with the row (so a revocation racing a check-in wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCredential {
    pub server_id: Uuid,
    pub credential_hash: Vec<u8>,
}

/// Why a check-in was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No live credential: unknown, revoked or replaced.
    Unknown,
    /// The credential was issued for this other name.
    OtherName(String),
}

/// Records a check-in on the agent's own row, follows what it says about each session, and
/// works out what the agent should know. An unchanged check-in is one statement that writes
/// nothing (`store::agents::check_in`), its time kept in Redis (`presence`); when Redis can't
/// take it, the row keeps it as without Redis.
pub async fn record(
    db: &PgPool,
    presence: Option<&AgentPresence>,
    agent: &PresentedCredential,
    report: &CheckIn,
) -> Result<Result<CheckInReply, Refusal>, StoreError> {
    let name = report.name.trim();
    let check_in = store::agents::CheckIn {
        name,
        address: &report.address,
        agent_url: &report.agent_url,
        cores: report.cores,
        memory: report.memory,
        gpus: report.gpus,
        disk_free: report.disk_free,
        images_present: &report.images_present,
        images_missing: &report.images_missing,
        version: &report.version,
        interval_secs: report.interval_secs.max(1) as i32,
        instance_id: report.instance_id,
        api_secret: &report.api_secret,
        time_kept_elsewhere: presence.is_some(),
    };
    let server_id = agent.server_id;
    let found = store::agents::check_in(db, server_id, &agent.credential_hash, &check_in).await?;
    let Some(found) = found else {
        return Ok(Err(Refusal::Unknown));
    };
    if found.hostname != name {
        return Ok(Err(Refusal::OtherName(found.hostname)));
    }
    // Only a verified check-in is kept (a stranger's must not keep an agent online).
    if let Some(presence) = presence {
        if !presence.record(server_id, check_in.interval_secs).await && !found.written {
            store::agents::refresh_last_check_in(db, server_id).await?;
        }
    }
    let deployment_id = found
        .deployment_id
        .ok_or(StoreError::NotFound("the deployment_id setting"))?;
    let owner = format!("{}@{deployment_id}", found.hostname);
    let moved = follow_reports(db, report, &owner, found.settled, &found.sessions).await?;
    if found.volume_roots.as_ref() != Some(&report.volume_roots) {
        store::profiles::record_volume_roots(db, server_id, &report.volume_roots).await?;
    }
    // A session the report moved may have left the agent's list: read it again then.
    let known_sessions = if moved {
        store::sessions::agent_reports::not_deleted_on(db, server_id).await?
    } else {
        found.sessions.iter().map(|s| s.session_id).collect()
    };
    Ok(Ok(CheckInReply {
        server_id,
        known_sessions,
        wanted_images: found.wanted_images,
        deployment_id,
    }))
}

/// Moves each of the agent's running, paused and stopped sessions as its report says
/// (exited, vanished, moved, paused outside Berth) and keeps the absence counters. True when
/// a session was moved.
async fn follow_reports(
    db: &PgPool,
    report: &CheckIn,
    owner: &str,
    settled: bool,
    sessions: &[LiveSession],
) -> Result<bool, StoreError> {
    use store::sessions::agent_reports;
    let (mut counted, mut reset, mut moved) = (Vec::new(), Vec::new(), false);
    let judged = sessions.iter().filter(|session| {
        matches!(
            session.status,
            SessionStatus::Running | SessionStatus::Paused | SessionStatus::Stopped
        )
    });
    for session in judged {
        let found = reports::report_for(session, &report.sessions, owner);
        let verdict = reports::assess(session, found, settled, &report.address);
        match verdict.tally {
            Tally::Count => counted.push(session.session_id),
            Tally::Reset => reset.push(session.session_id),
            Tally::Keep => {}
        }
        if let Some(transition) = verdict.transition {
            tracing::warn!(session_id = %session.session_id, server = report.name, ?transition, "the agent's report changes the session");
            state::apply(db, session.session_id, &transition).await?;
            moved = true;
        }
    }
    if !counted.is_empty() {
        agent_reports::count_disagreeing(db, &counted).await?;
    }
    if !reset.is_empty() {
        agent_reports::reset_disagreeing(db, &reset).await?;
    }
    Ok(moved)
}

/// Agents that missed three check-ins in a row are offline: those whose rows say so and
/// whose check-ins Redis (when kept there) hasn't seen either.
pub async fn mark_silent_agents_offline(
    db: &PgPool,
    presence: Option<&AgentPresence>,
) -> Result<(), StoreError> {
    let candidates = store::agents::silent_rows(db).await?;
    let now = presence::unix_now_ms();
    // Asked even with no candidate: it starts Redis's tracking marker at the first sweep,
    // not at the first silence (which would then wait out a threshold of its own).
    let evidence = match presence {
        Some(presence) => presence.evidence(&candidates, now).await,
        None => Evidence::RowsOnly,
    };
    let silent = presence::silent(&candidates, &evidence, now);
    if silent.is_empty() {
        return Ok(());
    }
    for hostname in store::agents::mark_offline(db, &silent).await? {
        tracing::warn!(hostname, "agent missed three check-ins; marked offline");
    }
    Ok(())
}
