//! Offline judgement from rows and Redis: an agent is silent only when nothing says it checked
//! in within three intervals, and Redis's silence counts only when Redis has been keeping
//! check-ins (or been unreachable, with the rows written meanwhile) for that long.
use super::*;

const NOW: i64 = 1_000_000_000;
const SECOND: i64 = 1000;

fn row(n: u128, interval_secs: i32) -> SilentRow {
    SilentRow {
        server_id: Uuid::from_u128(n),
        interval_secs,
    }
}

#[test]
fn rows_alone_are_the_truth_without_redis() {
    let rows = [row(1, 5), row(2, 10)];
    assert_eq!(
        silent(&rows, &Evidence::RowsOnly, NOW),
        [Uuid::from_u128(1), Uuid::from_u128(2)]
    );
}

#[test]
fn a_recent_check_in_in_redis_keeps_an_agent_online() {
    let rows = [row(1, 5), row(2, 5), row(3, 5)];
    let evidence = Evidence::Seen {
        since: NOW - 3600 * SECOND,
        // Seen 2 s ago; seen 16 s ago (past 3 × 5 s); never.
        seen: vec![Some(NOW - 2 * SECOND), Some(NOW - 16 * SECOND), None],
    };
    assert_eq!(
        silent(&rows, &evidence, NOW),
        [Uuid::from_u128(2), Uuid::from_u128(3)]
    );
}

#[test]
fn each_agent_is_judged_by_its_own_interval() {
    let rows = [row(1, 5), row(2, 30)];
    let evidence = Evidence::Seen {
        since: NOW - 3600 * SECOND,
        seen: vec![Some(NOW - 20 * SECOND), Some(NOW - 20 * SECOND)],
    };
    assert_eq!(silent(&rows, &evidence, NOW), [Uuid::from_u128(1)]);
}

#[test]
fn an_emptied_redis_marks_nobody_until_it_has_kept_check_ins_for_the_threshold() {
    let rows = [row(1, 5)];
    let fresh = Evidence::Seen {
        since: NOW - 10 * SECOND,
        seen: vec![None],
    };
    assert!(silent(&rows, &fresh, NOW).is_empty());
    let old_enough = Evidence::Seen {
        since: NOW - 15 * SECOND,
        seen: vec![None],
    };
    assert_eq!(silent(&rows, &old_enough, NOW), [Uuid::from_u128(1)]);
}

#[test]
fn while_redis_is_unreachable_rows_count_once_the_outage_outlasts_the_threshold() {
    let rows = [row(1, 5), row(2, 60)];
    let outage = Evidence::Unreachable {
        since: NOW - 20 * SECOND,
    };
    // The 5 s agent's row would have been written in 20 s of check-ins; the 60 s one's not.
    assert_eq!(silent(&rows, &outage, NOW), [Uuid::from_u128(1)]);
    assert!(silent(&rows, &Evidence::Unreachable { since: NOW }, NOW).is_empty());
}

#[test]
fn a_short_answer_from_redis_reads_as_not_seen() {
    let rows = [row(1, 5), row(2, 5)];
    let evidence = Evidence::Seen {
        since: NOW - 3600 * SECOND,
        seen: vec![Some(NOW)],
    };
    assert_eq!(silent(&rows, &evidence, NOW), [Uuid::from_u128(2)]);
}
