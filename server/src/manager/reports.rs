//! What an agent's check-in says about each of its sessions: pure decisions, applied by
//! `checkin::record` through the state machine.
//!
//! A container missing from one report proves little: the agent may have just restarted, or
//! Docker may be answering slowly. A session is ended as vanished only when its agent has
//! been up and reporting for at least two intervals (`settled`) and has then reported the
//! container absent twice in a row.
use super::state::{Endpoint, Transition};
use crate::protocol::ContainerReport;
use berth_model::SessionStatus;
use uuid::Uuid;

/// Absent reports in a row that end a session.
pub const ABSENT_REPORTS_TO_VANISH: i32 = 2;

/// A session the manager places on the reporting agent, as its row says.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSession {
    pub kasm_id: Uuid,
    pub status: SessionStatus,
    pub container_id: Option<String>,
    pub port: Option<u16>,
    pub absent_checkins: i32,
}

/// What to do with the session's absence counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    Keep,
    Reset,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub absence: Absence,
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
        report.kasm_id == session.kasm_id
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
    if !judged {
        return Assessment {
            absence: Absence::Keep,
            transition: None,
        };
    }
    let Some(report) = report else {
        if !settled {
            return Assessment {
                absence: Absence::Keep,
                transition: None,
            };
        }
        let vanished = session.absent_checkins + 1 >= ABSENT_REPORTS_TO_VANISH;
        return Assessment {
            absence: Absence::Count,
            transition: vanished.then_some(Transition::Vanished),
        };
    };
    let absence = if session.absent_checkins == 0 {
        Absence::Keep
    } else {
        Absence::Reset
    };
    Assessment {
        absence,
        transition: container_change(session, report, publish_host),
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

    const OWNER: &str = "agent-1@deployment";

    fn session(status: SessionStatus) -> LiveSession {
        LiveSession {
            kasm_id: Uuid::from_u128(1),
            status,
            container_id: Some("c1".into()),
            port: Some(40000),
            absent_checkins: 0,
        }
    }

    fn report(running: bool, paused: bool) -> ContainerReport {
        ContainerReport {
            kasm_id: Uuid::from_u128(1),
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
            row.absent_checkins = 5;
            let verdict = assess(&row, None, false, "127.0.0.1");
            assert_eq!(verdict.transition, None, "{status}");
            assert_eq!(verdict.absence, Absence::Keep);
        }
    }

    #[test]
    fn a_container_is_gone_after_two_absent_reports_of_a_settled_agent() {
        let mut row = session(SessionStatus::Stopped);
        let first = assess(&row, None, true, "127.0.0.1");
        assert_eq!(first.absence, Absence::Count);
        assert_eq!(first.transition, None);
        row.absent_checkins = 1;
        let second = assess(&row, None, true, "127.0.0.1");
        assert_eq!(second.transition, Some(Transition::Vanished));
    }

    #[test]
    fn a_present_container_resets_the_count() {
        let mut row = session(SessionStatus::Running);
        row.absent_checkins = 1;
        let verdict = assess(&row, Some(&report(true, false)), true, "127.0.0.1");
        assert_eq!(verdict.absence, Absence::Reset);
        assert_eq!(verdict.transition, None);
    }

    #[test]
    fn an_exited_container_is_stopped_with_its_exit_code_never_running() {
        for status in [SessionStatus::Running, SessionStatus::Paused] {
            let verdict = assess(
                &session(status),
                Some(&report(false, false)),
                false,
                "127.0.0.1",
            );
            assert_eq!(
                verdict.transition,
                Some(Transition::Exited { code: Some(143) })
            );
        }
        // A stopped session's container is meant to be exited.
        let stopped = assess(
            &session(SessionStatus::Stopped),
            Some(&report(false, false)),
            true,
            "127.0.0.1",
        );
        assert_eq!(stopped.transition, None);
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
            assert_eq!(verdict.absence, Absence::Keep);
        }
    }

    #[test]
    fn pauses_and_port_changes_outside_berth_are_followed() {
        let paused = assess(
            &session(SessionStatus::Running),
            Some(&report(true, true)),
            true,
            "127.0.0.1",
        );
        assert_eq!(paused.transition, Some(Transition::Pause));
        let unpaused = assess(
            &session(SessionStatus::Paused),
            Some(&report(true, false)),
            true,
            "127.0.0.1",
        );
        assert_eq!(unpaused.transition, Some(Transition::Unpause));
        let mut moved = report(true, false);
        moved.port = Some(40001);
        let verdict = assess(
            &session(SessionStatus::Running),
            Some(&moved),
            true,
            "127.0.0.1",
        );
        assert!(matches!(
            verdict.transition,
            Some(Transition::Moved(Endpoint { port: 40001, .. }))
        ));
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
