//! The pool's decisions, pure: from the configs and the staged sessions there are, which to
//! start and which to recycle. The manager applies them (`staging::Manager::tend_pool`).
use berth_model::SessionStatus;
use std::collections::HashMap;
use uuid::Uuid;

/// A config as the pool sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub staging_config_id: Uuid,
    pub desired: i64,
}

/// A staged session (nobody's) that is not deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Have {
    pub session_id: Uuid,
    pub staging_config_id: Option<Uuid>,
    pub status: SessionStatus,
}

/// What to do now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// One entry per session to stage, naming its config (round-robin across configs).
    pub start: Vec<Uuid>,
    /// Staged sessions to end: their config is gone, they no longer serve (stopped, paused),
    /// or their config wants fewer.
    pub recycle: Vec<Uuid>,
}

fn is_starting(status: SessionStatus) -> bool {
    matches!(
        status,
        SessionStatus::Requested | SessionStatus::Provisioning | SessionStatus::Starting
    )
}

/// Plans the pool: recycles what cannot serve or is too many (the oldest ready first: they are
/// the nearest to expiry), and starts what is missing, at most `concurrency` staged launches
/// under way at once (those already starting count).
pub fn plan(wants: &[Want], have: &[Have], concurrency: usize) -> Plan {
    let mut plan = Plan::default();
    let mut live: HashMap<Uuid, Vec<&Have>> = HashMap::new();
    for session in have {
        let serves =
            matches!(session.status, SessionStatus::Running) || is_starting(session.status);
        let config = session
            .staging_config_id
            .filter(|id| wants.iter().any(|want| want.staging_config_id == *id));
        match (config, serves) {
            (Some(config), true) => live.entry(config).or_default().push(session),
            // Deleting: already on its way out.
            _ if session.status == SessionStatus::Deleting => {}
            _ => plan.recycle.push(session.session_id),
        }
    }
    let mut missing: Vec<(Uuid, i64)> = Vec::new();
    for want in wants {
        let sessions = live.remove(&want.staging_config_id).unwrap_or_default();
        let count = sessions.len() as i64;
        if count > want.desired {
            let surplus = (count - want.desired) as usize;
            let ready = sessions
                .iter()
                .filter(|s| s.status == SessionStatus::Running);
            let starting = sessions.iter().filter(|s| is_starting(s.status));
            plan.recycle
                .extend(ready.chain(starting).take(surplus).map(|s| s.session_id));
        } else if count < want.desired {
            missing.push((want.staging_config_id, want.desired - count));
        }
    }
    let under_way = have.iter().filter(|s| is_starting(s.status)).count();
    let mut budget = concurrency.saturating_sub(under_way);
    while budget > 0 && missing.iter().any(|(_, n)| *n > 0) {
        for (config, n) in missing.iter_mut() {
            if budget > 0 && *n > 0 {
                plan.start.push(*config);
                *n -= 1;
                budget -= 1;
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus::*;

    fn want(desired: i64) -> Want {
        Want {
            staging_config_id: Uuid::new_v4(),
            desired,
        }
    }

    fn have(config: Option<Uuid>, status: SessionStatus) -> Have {
        Have {
            session_id: Uuid::new_v4(),
            staging_config_id: config,
            status,
        }
    }

    #[test]
    fn an_empty_pool_fills_within_the_concurrency() {
        let a = want(3);
        let plan = plan(std::slice::from_ref(&a), &[], 2);
        assert_eq!(plan.start, vec![a.staging_config_id; 2]);
        assert!(plan.recycle.is_empty());
    }

    #[test]
    fn launches_under_way_count_both_toward_the_pool_and_the_concurrency() {
        let a = want(3);
        let id = Some(a.staging_config_id);
        let sessions = [have(id, Running), have(id, Starting)];
        // One missing, but one launch is already under way and only two may be.
        assert_eq!(
            plan(std::slice::from_ref(&a), &sessions, 2).start,
            vec![a.staging_config_id]
        );
        assert!(plan(&[a], &sessions, 1).start.is_empty());
    }

    #[test]
    fn a_full_pool_does_nothing() {
        let a = want(2);
        let id = Some(a.staging_config_id);
        assert_eq!(
            plan(&[a], &[have(id, Running), have(id, Running)], 4),
            Plan::default()
        );
    }

    #[test]
    fn configs_are_filled_in_turn() {
        let (a, b) = (want(5), want(5));
        let plan = plan(&[a.clone(), b.clone()], &[], 3);
        assert_eq!(
            plan.start,
            vec![
                a.staging_config_id,
                b.staging_config_id,
                a.staging_config_id
            ]
        );
    }

    #[test]
    fn orphans_stopped_and_surplus_sessions_are_recycled_oldest_ready_first() {
        let a = want(1);
        let id = Some(a.staging_config_id);
        let orphan = have(None, Running);
        let of_a_deleted_config = have(Some(Uuid::new_v4()), Running);
        let stopped = have(id, Stopped);
        let (old, young) = (have(id, Running), have(id, Running));
        let going = have(None, Deleting);
        let sessions = [
            orphan.clone(),
            of_a_deleted_config.clone(),
            stopped.clone(),
            old.clone(),
            young.clone(),
            going,
        ];
        let plan = plan(&[a], &sessions, 2);
        assert!(plan.start.is_empty());
        assert_eq!(
            plan.recycle,
            vec![
                orphan.session_id,
                of_a_deleted_config.session_id,
                stopped.session_id,
                old.session_id
            ]
        );
    }

    #[test]
    fn a_desired_count_of_zero_empties_the_pool() {
        let a = want(0);
        let id = Some(a.staging_config_id);
        let sessions = [have(id, Running), have(id, Provisioning)];
        assert_eq!(plan(&[a], &sessions, 2).recycle.len(), 2);
    }
}
