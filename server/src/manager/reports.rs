//! What an agent's check-in says about each of its sessions: pure decisions, applied by
//! `checkin::record` through the state machine.
//!
//! One report that disagrees with a session's row proves little. A container missing from it:
//! the agent may have just restarted, or Docker may be answering slowly. A container in
//! another state (paused, exited, on another port): the report may have been taken just
//! before a change Berth made (a resume) and read just after it, and acting on it would undo
//! that change. So a session follows its container only after two reports in a row disagree
//! with its row (any write of its state starts the count again), and is ended as vanished only
//! when its agent has also been up and reporting for at least two intervals (`settled`).
use super::state::{Endpoint, Transition};
use crate::protocol::ContainerReport;
use berth_model::SessionStatus;

/// Disagreeing reports in a row after which the session follows its container.
pub const DISAGREEING_REPORTS_TO_ACT: i32 = 2;

/// A session the manager places on the reporting agent, as its row says (the store's row,
/// read as it is).
pub use store::sessions::agent_reports::Placed as LiveSession;

/// What to do with the session's counter of disagreeing reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Keep,
    Reset,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub tally: Tally,
    pub transition: Option<Transition>,
}

/// The report about `session`'s container, if the agent made one: same session, this
/// deployment's owner label, and the container the row knows (a replaced container is not
/// the session's).
pub fn report_for<'a>(
    session: &LiveSession,
    reports: &'a [ContainerReport],
    owner: &str,
) -> Option<&'a ContainerReport> {
    reports.iter().find(|report| {
        report.session_id == session.session_id
            && report.owner == owner
            && session
                .container_id
                .as_deref()
                .is_none_or(|known| known == report.container_id)
    })
}

/// Decides what a check-in means for one session. Launches and starts under way (requested,
/// provisioning, starting) and sessions being deleted are not judged by reports: their
/// supervisor owns them.
pub fn assess(
    session: &LiveSession,
    report: Option<&ContainerReport>,
    settled: bool,
    publish_host: &str,
) -> Assessment {
    let judged = matches!(
        session.status,
        SessionStatus::Running | SessionStatus::Paused | SessionStatus::Stopped
    );
    let disagreement = match report {
        _ if !judged => None,
        // An agent that just started may not see its containers yet: no verdict, no count.
        None if !settled => None,
        None => Some(Transition::Vanished),
        Some(report) => match container_change(session, report, publish_host) {
            Some(change) => Some(change),
            None if session.disagreeing_checkins > 0 => {
                return Assessment {
                    tally: Tally::Reset,
                    transition: None,
                }
            }
            None => None,
        },
    };
    match disagreement {
        None => Assessment {
            tally: Tally::Keep,
            transition: None,
        },
        // Acting writes the session's state, which starts its count again.
        Some(change) if session.disagreeing_checkins + 1 >= DISAGREEING_REPORTS_TO_ACT => {
            Assessment {
                tally: Tally::Keep,
                transition: Some(change),
            }
        }
        Some(_) => Assessment {
            tally: Tally::Count,
            transition: None,
        },
    }
}

/// A change of the container's own state that the row does not show yet.
fn container_change(
    session: &LiveSession,
    report: &ContainerReport,
    publish_host: &str,
) -> Option<Transition> {
    match session.status {
        SessionStatus::Running | SessionStatus::Paused if !report.running => {
            Some(Transition::Exited {
                code: report.exit_code,
            })
        }
        SessionStatus::Running if report.paused => Some(Transition::Pause),
        SessionStatus::Paused if !report.paused => Some(Transition::Unpause),
        SessionStatus::Running => {
            let moved = report.port.is_some() && report.port != session.port;
            let endpoint = Endpoint {
                container_id: report.container_id.clone(),
                host: publish_host.to_owned(),
                port: report.port?,
            };
            moved.then_some(Transition::Moved(endpoint))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const OWNER: &str = "agent-1@deployment";

    fn session(status: SessionStatus) -> LiveSession {
        LiveSession {
            session_id: Uuid::from_u128(1),
            status,
            container_id: Some("c1".into()),
            port: Some(40000),
            disagreeing_checkins: 0,
        }
    }

    fn report(running: bool, paused: bool) -> ContainerReport {
        ContainerReport {
            session_id: Uuid::from_u128(1),
            container_id: "c1".into(),
            running,
            paused,
            owner: OWNER.into(),
            port: running.then_some(40000),
            exit_code: (!running).then_some(143),
        }
    }

    #[test]
    fn an_agent_that_just_started_ends_nothing() {
        for status in [
            SessionStatus::Running,
            SessionStatus::Paused,
            SessionStatus::Stopped,
        ] {
            let mut row = session(status);
            row.disagreeing_checkins = 5;
            let verdict = assess(&row, None, false, "127.0.0.1");
            assert_eq!(verdict.transition, None, "{status}");
            assert_eq!(verdict.tally, Tally::Keep);
        }
    }

    #[test]
    fn a_container_is_gone_after_two_absent_reports_of_a_settled_agent() {
        let mut row = session(SessionStatus::Stopped);
        let first = assess(&row, None, true, "127.0.0.1");
        assert_eq!(first.tally, Tally::Count);
        assert_eq!(first.transition, None);
        row.disagreeing_checkins = 1;
        let second = assess(&row, None, true, "127.0.0.1");
        assert_eq!(second.transition, Some(Transition::Vanished));
    }

    #[test]
    fn a_present_container_resets_the_count() {
        let mut row = session(SessionStatus::Running);
        row.disagreeing_checkins = 1;
        let verdict = assess(&row, Some(&report(true, false)), true, "127.0.0.1");
        assert_eq!(verdict.tally, Tally::Reset);
        assert_eq!(verdict.transition, None);
    }

    /// What two reports in a row of `container` make of a session in `status`.
    fn twice(status: SessionStatus, container: &ContainerReport) -> (Assessment, Assessment) {
        let mut row = session(status);
        let first = assess(&row, Some(container), true, "127.0.0.1");
        row.disagreeing_checkins = 1;
        (first, assess(&row, Some(container), true, "127.0.0.1"))
    }

    #[test]
    fn an_exited_container_is_stopped_with_its_exit_code_never_running() {
        for status in [SessionStatus::Running, SessionStatus::Paused] {
            let (first, second) = twice(status, &report(false, false));
            assert_eq!(first.transition, None);
            assert_eq!(first.tally, Tally::Count);
            assert_eq!(
                second.transition,
                Some(Transition::Exited { code: Some(143) })
            );
        }
        // A stopped session's container is meant to be exited.
        let (first, second) = twice(SessionStatus::Stopped, &report(false, false));
        assert_eq!((first.transition, second.transition), (None, None));
        assert_eq!(first.tally, Tally::Keep);
    }

    #[test]
    fn sessions_under_way_are_left_to_their_supervisor() {
        for status in [
            SessionStatus::Requested,
            SessionStatus::Provisioning,
            SessionStatus::Starting,
            SessionStatus::Deleting,
        ] {
            let verdict = assess(&session(status), None, true, "127.0.0.1");
            assert_eq!(verdict.transition, None, "{status}");
            assert_eq!(verdict.tally, Tally::Keep);
        }
    }

    #[test]
    fn pauses_and_port_changes_outside_berth_are_followed_on_the_second_report() {
        let (first, second) = twice(SessionStatus::Running, &report(true, true));
        assert_eq!(first.transition, None);
        assert_eq!(second.transition, Some(Transition::Pause));
        let (first, second) = twice(SessionStatus::Paused, &report(true, false));
        assert_eq!(first.transition, None);
        assert_eq!(second.transition, Some(Transition::Unpause));
        let mut moved = report(true, false);
        moved.port = Some(40001);
        let (first, second) = twice(SessionStatus::Running, &moved);
        assert_eq!(first.transition, None);
        assert!(matches!(
            second.transition,
            Some(Transition::Moved(Endpoint { port: 40001, .. }))
        ));
    }

    /// A report taken while the container was still paused and read after Berth resumed it
    /// (the session's row now running, its count started again) changes nothing; the next
    /// report agrees and the count goes back to zero.
    #[test]
    fn a_report_older_than_a_resume_does_not_pause_the_session_again() {
        let resumed = session(SessionStatus::Running);
        let stale = assess(&resumed, Some(&report(true, true)), true, "127.0.0.1");
        assert_eq!(stale.transition, None);
        assert_eq!(stale.tally, Tally::Count);
        let mut counted = resumed.clone();
        counted.disagreeing_checkins = 1;
        let current = assess(&counted, Some(&report(true, false)), true, "127.0.0.1");
        assert_eq!(current.transition, None);
        assert_eq!(current.tally, Tally::Reset);
    }

    #[test]
    fn reports_of_other_deployments_or_replaced_containers_do_not_count() {
        let row = session(SessionStatus::Running);
        let mut foreign = report(true, false);
        foreign.owner = "agent-1@other-deployment".into();
        assert!(report_for(&row, &[foreign], OWNER).is_none());
        let mut replaced = report(true, false);
        replaced.container_id = "c2".into();
        assert!(report_for(&row, &[replaced], OWNER).is_none());
        let own = report(true, false);
        assert!(report_for(&row, std::slice::from_ref(&own), OWNER).is_some());
    }
}
