//! Agent check-ins: the registry of servers, offline marking, and reconciliation. Each agent
//! authenticates with its own credential, bound to one server row (verified by the check-in
//! endpoint, `api::agent_checkin`): a check-in updates that row only.
use super::reports::{self, Tally};
use super::state;
use crate::protocol::{CheckIn, CheckInReply};
use sqlx::PgPool;
use store::StoreError;
use uuid::Uuid;

/// An agent whose credential the check-in endpoint verified: the row it may update, the only
/// name it may check in under, and the credential hash it matched (the check-in updates the
/// row only while it is still this one, so a revocation racing a check-in wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAgent {
    pub server_id: Uuid,
    pub hostname: String,
    pub credential_hash: Vec<u8>,
}

/// Records a check-in on the agent's own row, follows what it says about each session, and
/// works out what the agent should know. None when the credential was revoked meanwhile.
pub async fn record(
    db: &PgPool,
    agent: &VerifiedAgent,
    report: &CheckIn,
) -> Result<Option<CheckInReply>, StoreError> {
    let check_in = store::agents::CheckIn {
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
    };
    let server_id = agent.server_id;
    let recorded =
        store::agents::record_check_in(db, server_id, &agent.credential_hash, &check_in).await?;
    let Some(settled) = recorded else {
        return Ok(None);
    };
    let deployment_id = store::settings::deployment_id(db).await?;
    let owner = format!("{}@{deployment_id}", agent.hostname);
    follow_reports(db, server_id, report, &owner, settled).await?;
    store::profiles::record_volume_roots(db, server_id, &report.volume_roots).await?;
    Ok(Some(CheckInReply {
        server_id,
        known_sessions: store::sessions::agent_reports::not_deleted_on(db, server_id).await?,
        wanted_images: store::agents::wanted_images(db, server_id).await?,
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
) -> Result<(), StoreError> {
    use store::sessions::agent_reports;
    let rows = agent_reports::with_containers_on(db, server_id).await?;
    let (mut counted, mut reset) = (Vec::new(), Vec::new());
    for session in rows {
        let found = reports::report_for(&session, &report.sessions, owner);
        let verdict = reports::assess(&session, found, settled, &report.address);
        match verdict.tally {
            Tally::Count => counted.push(session.session_id),
            Tally::Reset => reset.push(session.session_id),
            Tally::Keep => {}
        }
        if let Some(transition) = verdict.transition {
            tracing::warn!(session_id = %session.session_id, server = report.name, ?transition, "the agent's report changes the session");
            state::apply(db, session.session_id, &transition).await?;
        }
    }
    if !counted.is_empty() {
        agent_reports::count_disagreeing(db, &counted).await?;
    }
    if !reset.is_empty() {
        agent_reports::reset_disagreeing(db, &reset).await?;
    }
    Ok(())
}

/// Agents that missed three check-ins in a row are offline.
pub async fn mark_silent_agents_offline(db: &PgPool) -> Result<(), StoreError> {
    for hostname in store::agents::mark_silent_offline(db).await? {
        tracing::warn!(hostname, "agent missed three check-ins; marked offline");
    }
    Ok(())
}
