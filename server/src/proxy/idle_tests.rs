//! The idle bookkeeping: deadlines move with input, sharing is rate-limited, input heard of
//! elsewhere counts.
use super::*;

const LIMIT: Duration = Duration::from_secs(600);

#[test]
fn the_deadline_is_the_limit_after_the_last_input() {
    let start = Instant::now();
    let mut clock = IdleClock::new(LIMIT, start);
    assert_eq!(clock.deadline(), start + LIMIT);
    assert!(!clock.is_idle(start + LIMIT - Duration::from_secs(1)));
    assert!(clock.is_idle(start + LIMIT));
    clock.input(start + Duration::from_secs(30));
    assert!(!clock.is_idle(start + LIMIT));
    assert_eq!(clock.deadline(), start + Duration::from_secs(30) + LIMIT);
    // An older time (out of order) never moves the deadline back.
    clock.input(start + Duration::from_secs(10));
    assert_eq!(clock.deadline(), start + Duration::from_secs(30) + LIMIT);
}

#[test]
fn input_is_shared_at_most_once_a_minute() {
    let start = Instant::now();
    let mut clock = IdleClock::new(LIMIT, start);
    assert!(clock.input(start), "the first input is shared");
    assert!(!clock.input(start + Duration::from_secs(1)));
    assert!(!clock.input(start + Duration::from_secs(59)));
    assert!(clock.input(start + Duration::from_secs(60)));
    assert!(!clock.input(start + Duration::from_secs(100)));
    assert!(clock.input(start + Duration::from_secs(121)));
}

#[test]
fn short_limits_share_four_times_per_limit() {
    assert_eq!(
        IdleClock::share_every(Duration::from_secs(8)),
        Duration::from_secs(2)
    );
    assert_eq!(IdleClock::share_every(LIMIT), Duration::from_secs(60));
}

#[test]
fn input_on_another_stream_keeps_this_one_open() {
    let start = Instant::now();
    let mut clock = IdleClock::new(LIMIT, start);
    clock.heard_of(start + Duration::from_secs(300));
    assert!(!clock.is_idle(start + LIMIT));
    assert!(clock.is_idle(start + LIMIT + Duration::from_secs(300)));
}

#[test]
fn shared_times_become_instants() {
    let now = Instant::now();
    let now_ms = 1_000_000;
    assert_eq!(instant_of(now_ms, now, now_ms), now);
    assert_eq!(
        instant_of(now_ms - 5_000, now, now_ms),
        now - Duration::from_secs(5)
    );
    // A clock ahead elsewhere: never later than now.
    assert_eq!(instant_of(now_ms + 5_000, now, now_ms), now);
}
