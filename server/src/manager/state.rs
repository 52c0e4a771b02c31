//! The session state machine. Every change of a session's status is a [`Transition`]: it names
//! the states it may start from, the state it leads to and the message the user sees. The
//! manager applies them with [`apply`], a compare-and-set on the row, so two actors racing
//! (a launch finishing while the user deletes, a check-in seeing an exit while a stop is under
//! way) can never move a session along an edge the machine does not have.
use berth_model::SessionStatus::{self, *};
use sqlx::PgPool;
use store::sessions::state::{StateWrite, Streaming};
use store::StoreError;
use uuid::Uuid;

/// Where a session's desktop streams: its container and the published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub container_id: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// provisioning → starting: the agent creates the container.
    Starting { host: String },
    /// starting → running: the desktop streams (first launch, start after a stop, or a launch
    /// taken over after a restart of Berth).
    Streaming(Endpoint),
    /// running → running: the container now streams elsewhere (restarted outside Berth).
    Moved(Endpoint),
    /// requested, provisioning or starting → deleted: the first launch failed.
    LaunchFailed(String),
    /// running → paused.
    Pause,
    /// paused → running.
    Unpause,
    /// running or paused → stopped, asked for.
    Stop,
    /// running or paused → stopped: the container exited by itself (or its Docker restarted).
    Exited { code: Option<i64> },
    /// stopped → starting: the container is started again.
    StartAgain,
    /// starting → stopped: starting again failed; the files are kept.
    StartFailed(String),
    /// any live state → deleting: its container is being removed.
    Deleting,
    /// any state but deleted → deleted, for the reason given.
    Ended(String),
    /// running, paused or stopped → deleted: the agent reported its container absent.
    Vanished,
}

/// A transition asked of a session whose state does not allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {current} session cannot take the transition {transition:?}")]
pub struct IllegalTransition {
    pub current: SessionStatus,
    pub transition: Transition,
}

const LIVE: &[SessionStatus] = &[Requested, Provisioning, Starting, Running, Paused, Stopped];

impl Transition {
    /// The states this transition may start from.
    pub fn from(&self) -> &'static [SessionStatus] {
        match self {
            Transition::Starting { .. } => &[Provisioning],
            Transition::Streaming(_) | Transition::StartFailed(_) => &[Starting],
            Transition::Moved(_) | Transition::Pause => &[Running],
            Transition::LaunchFailed(_) => &[Requested, Provisioning, Starting],
            Transition::Unpause => &[Paused],
            Transition::Stop | Transition::Exited { .. } => &[Running, Paused],
            Transition::StartAgain => &[Stopped],
            Transition::Deleting => LIVE,
            Transition::Ended(_) => &[
                Requested,
                Provisioning,
                Starting,
                Running,
                Paused,
                Stopped,
                Deleting,
            ],
            Transition::Vanished => &[Running, Paused, Stopped],
        }
    }

    /// The state it leads to.
    pub fn to(&self) -> SessionStatus {
        match self {
            Transition::Starting { .. } | Transition::StartAgain => Starting,
            Transition::Streaming(_) | Transition::Moved(_) | Transition::Unpause => Running,
            Transition::Pause => Paused,
            Transition::Stop | Transition::Exited { .. } | Transition::StartFailed(_) => Stopped,
            Transition::Deleting => Deleting,
            Transition::LaunchFailed(_) | Transition::Ended(_) | Transition::Vanished => Deleted,
        }
    }

    /// What the user reads about the session after it.
    pub fn message(&self) -> String {
        match self {
            Transition::Starting { host } => format!("Starting the desktop on {host}"),
            Transition::Streaming(_) | Transition::Moved(_) | Transition::Unpause => {
                "Running".into()
            }
            Transition::LaunchFailed(reason) => format!("The launch failed: {reason}"),
            Transition::Pause => "Paused".into(),
            Transition::Stop => "Stopped".into(),
            Transition::Exited { code: Some(code) } => format!(
                "The desktop exited (code {code}); its files are kept and Resume starts it again."
            ),
            Transition::Exited { code: None } => {
                "The desktop exited; its files are kept and Resume starts it again.".into()
            }
            Transition::StartAgain => "Starting the desktop again".into(),
            Transition::StartFailed(reason) => format!("Could not start again: {reason}"),
            Transition::Deleting => "Deleting".into(),
            Transition::Ended(reason) => reason.clone(),
            Transition::Vanished => "The session's container disappeared.".into(),
        }
    }

    /// The progress bar's value after it.
    pub fn progress(&self) -> i32 {
        match self {
            Transition::Starting { .. } => 30,
            Transition::StartAgain => 50,
            _ => 100,
        }
    }

    fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Transition::Streaming(endpoint) | Transition::Moved(endpoint) => Some(endpoint),
            _ => None,
        }
    }
}

/// The state after `transition`, or why the machine refuses it.
pub fn next(
    current: SessionStatus,
    transition: &Transition,
) -> Result<SessionStatus, IllegalTransition> {
    if transition.from().contains(&current) {
        Ok(transition.to())
    } else {
        Err(IllegalTransition {
            current,
            transition: transition.clone(),
        })
    }
}

/// Applies `transition` to the session if its current state allows it (atomically: the row's
/// state is compared and set in one statement, `store::sessions::state::write`). False when
/// the state did not allow it, e.g. the session was deleted meanwhile. The only way Berth
/// changes a session's status.
pub async fn apply(
    db: &PgPool,
    session_id: Uuid,
    transition: &Transition,
) -> Result<bool, StoreError> {
    let to = transition.to();
    let write = StateWrite {
        from: transition.from(),
        to,
        message: transition.message(),
        progress: transition.progress(),
        streaming: transition.endpoint().map(|endpoint| Streaming {
            container_id: &endpoint.container_id,
            host: &endpoint.host,
            port: endpoint.port,
        }),
    };
    let applied = store::sessions::state::write(db, session_id, &write).await?;
    if applied {
        tracing::info!(%session_id, status = %to, message = %write.message, "session state");
    } else {
        tracing::debug!(%session_id, ?transition, "transition not applied: the session's state does not allow it");
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint {
            container_id: "c".into(),
            host: "127.0.0.1".into(),
            port: 1,
        }
    }

    fn every_transition() -> Vec<Transition> {
        vec![
            Transition::Starting { host: "h".into() },
            Transition::Streaming(endpoint()),
            Transition::Moved(endpoint()),
            Transition::LaunchFailed("x".into()),
            Transition::Pause,
            Transition::Unpause,
            Transition::Stop,
            Transition::Exited { code: Some(143) },
            Transition::StartAgain,
            Transition::StartFailed("x".into()),
            Transition::Deleting,
            Transition::Ended("x".into()),
            Transition::Vanished,
        ]
    }

    #[test]
    fn nothing_leaves_deleted() {
        for transition in every_transition() {
            assert!(
                next(Deleted, &transition).is_err(),
                "{transition:?} from deleted"
            );
        }
    }

    #[test]
    fn a_session_is_running_only_after_it_streamed() {
        for transition in every_transition() {
            for from in SessionStatus::ALL {
                if next(from, &transition) == Ok(Running) && from != Running {
                    assert!(
                        matches!(transition, Transition::Streaming(_) | Transition::Unpause),
                        "{transition:?} made a {from} session running"
                    );
                }
            }
        }
    }

    #[test]
    fn the_edges_of_a_session_life() {
        assert_eq!(
            next(Provisioning, &Transition::Starting { host: "h".into() }),
            Ok(Starting)
        );
        assert_eq!(
            next(Starting, &Transition::Streaming(endpoint())),
            Ok(Running)
        );
        assert_eq!(next(Running, &Transition::Pause), Ok(Paused));
        assert_eq!(next(Paused, &Transition::Stop), Ok(Stopped));
        assert_eq!(next(Stopped, &Transition::StartAgain), Ok(Starting));
        assert_eq!(
            next(Starting, &Transition::StartFailed("x".into())),
            Ok(Stopped)
        );
        assert_eq!(next(Stopped, &Transition::Vanished), Ok(Deleted));
        assert_eq!(next(Deleting, &Transition::Ended("x".into())), Ok(Deleted));
    }

    #[test]
    fn illegal_moves_are_refused() {
        // An exit seen while the session is stopped or starting is not the session's doing.
        assert!(next(Stopped, &Transition::Exited { code: Some(0) }).is_err());
        assert!(next(Starting, &Transition::Exited { code: Some(0) }).is_err());
        // A launch that finishes after the user deleted the session does not revive it.
        assert!(next(Deleting, &Transition::Streaming(endpoint())).is_err());
        // A stopped session cannot be paused, a paused one not "started again".
        assert!(next(Stopped, &Transition::Pause).is_err());
        assert!(next(Paused, &Transition::StartAgain).is_err());
        // Absence ends only sessions that had a container.
        assert!(next(Provisioning, &Transition::Vanished).is_err());
        let refused = next(Stopped, &Transition::Pause).unwrap_err();
        assert_eq!(refused.current, Stopped);
    }

    #[test]
    fn exits_keep_the_code_in_the_message() {
        assert!(Transition::Exited { code: Some(143) }
            .message()
            .contains("code 143"));
    }
}
