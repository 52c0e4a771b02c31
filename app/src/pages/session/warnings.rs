//! Warnings above the desktop before the session ends or is disconnected: the time left when
//! the session's expiry (its keepalive window, capped by `session_time_limit`) is near, and,
//! shortly before the idle disconnect (`idle_disconnect`), that input is needed, then that
//! the desktop was disconnected for want of it.
use crate::model::{SessionStatus, SessionView};
use leptos::prelude::*;

/// The expiry is announced this many seconds ahead.
pub const EXPIRY_WARNING_SECS: i64 = 5 * 60;

/// One warning: its element id and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub id: &'static str,
    pub text: String,
}

fn seconds_text(seconds: i64) -> String {
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    }
}

/// The warnings `session` calls for now.
pub fn warnings(session: &SessionView) -> Vec<Warning> {
    let mut shown = Vec::new();
    if session.status != SessionStatus::Running {
        return shown;
    }
    match session.idle_in_secs {
        Some(0) => shown.push(Warning {
            id: "idle-disconnected",
            text: "The desktop was disconnected after no input for the idle limit; the session \
                   is no longer kept alive and ends when it expires. Reconnect to keep it."
                .into(),
        }),
        Some(left) if left <= session.idle_warn_secs => shown.push(Warning {
            id: "idle-warning",
            text: format!(
                "No input for a while: the desktop is disconnected in {} unless you use it.",
                seconds_text(left)
            ),
        }),
        _ => {}
    }
    if session.expires_in_secs <= EXPIRY_WARNING_SECS {
        shown.push(Warning {
            id: "expiry-warning",
            text: format!(
                "This session ends in {}.",
                seconds_text(session.expires_in_secs)
            ),
        });
    }
    shown
}

#[component]
pub fn Warnings(current: RwSignal<SessionView>) -> impl IntoView {
    view! {
        <div class="session-warnings" id="session-warnings">
            {move || {
                warnings(&current.get())
                    .into_iter()
                    .map(|w| view! { <p class="warning" role="alert" id=w.id>{w.text}</p> })
                    .collect_view()
            }}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn running(expires_in_secs: i64, idle_in_secs: Option<i64>) -> SessionView {
        SessionView {
            session_id: Uuid::nil(),
            image_name: "Desktop".into(),
            status: SessionStatus::Running,
            message: String::new(),
            progress: 100,
            created: String::new(),
            expires_in_secs,
            idle_in_secs,
            idle_warn_secs: 60,
            allowed: Default::default(),
        }
    }

    fn ids(session: &SessionView) -> Vec<&'static str> {
        warnings(session).into_iter().map(|w| w.id).collect()
    }

    #[test]
    fn nothing_is_shown_while_both_are_far() {
        assert!(ids(&running(3600, Some(600))).is_empty());
        assert!(ids(&running(3600, None)).is_empty());
    }

    #[test]
    fn the_idle_warning_shows_the_seconds_left_then_the_disconnect() {
        let soon = warnings(&running(3600, Some(42)));
        assert_eq!(soon.len(), 1);
        assert_eq!(soon[0].id, "idle-warning");
        assert!(soon[0].text.contains("42 s"), "{}", soon[0].text);
        assert_eq!(ids(&running(3600, Some(0))), vec!["idle-disconnected"]);
    }

    #[test]
    fn the_expiry_is_announced_five_minutes_ahead() {
        let ending = warnings(&running(125, None));
        assert_eq!(ending[0].id, "expiry-warning");
        assert!(ending[0].text.contains("2 min 05 s"), "{}", ending[0].text);
        assert!(ids(&running(301, None)).is_empty());
    }

    #[test]
    fn a_session_not_running_shows_none() {
        let mut paused = running(10, Some(0));
        paused.status = SessionStatus::Paused;
        assert!(ids(&paused).is_empty());
    }
}
