//! CPU time of processes from /proc, for benchmarks that report what a server costs: one
//! process (Berth, all its threads), or a PostgreSQL cluster (its postmaster and every child:
//! backends, writers, autovacuum).
use std::time::{Duration, Instant};

/// Clock ticks per second, as /proc counts CPU time.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The fields of /proc/<pid>/stat after the command name: (ppid, utime + stime, cutime +
/// cstime) in ticks.
fn stat(pid: u32) -> Option<(u32, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after its last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
    // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let ppid = number(1)? as u32;
    Some((ppid, number(11)? + number(12)?, number(13)? + number(14)?))
}

/// The parent of a process.
pub fn parent(pid: u32) -> Option<u32> {
    stat(pid).map(|(ppid, _, _)| ppid)
}

/// CPU seconds so far of `pid` alone (all its threads).
pub fn process_seconds(pid: u32) -> f64 {
    stat(pid).map_or(0.0, |(_, own, _)| own as f64) / ticks_per_second()
}

/// Every process's pid with its parent's.
fn parents() -> Vec<(u32, u32)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok());
        if let Some((pid, ppid)) = pid.and_then(|pid| Some((pid, parent(pid)?))) {
            all.push((pid, ppid));
        }
    }
    all
}

/// The direct children of `root`.
fn children(root: u32) -> Vec<u32> {
    parents()
        .into_iter()
        .filter(|&(_, ppid)| ppid == root)
        .map(|(pid, _)| pid)
        .collect()
}

/// Processes and all their descendants (nginx's master and workers; websockify and the
/// process it forks for each connection).
pub fn process_tree(roots: &[u32]) -> Vec<u32> {
    let all = parents();
    let mut tree = roots.to_vec();
    // Bounded: each process joins once.
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        for &(pid, ppid) in &all {
            if ppid == parent && !tree.contains(&pid) {
                tree.push(pid);
            }
        }
        next += 1;
    }
    tree
}

/// CPU seconds so far of `root`, its children that exited (as the kernel adds them to it once
/// reaped), and its live children.
pub fn tree_seconds(root: u32) -> f64 {
    let mut ticks = stat(root).map_or(0, |(_, own, reaped)| own + reaped);
    for child in children(root) {
        ticks += stat(child).map_or(0, |(_, own, _)| own);
    }
    ticks as f64 / ticks_per_second()
}

/// A running measurement of CPU use as a share of one core.
pub struct Meter {
    started: Instant,
    seconds: f64,
    read: Box<dyn Fn() -> f64 + Send>,
}

impl Meter {
    pub fn start(read: impl Fn() -> f64 + Send + 'static) -> Meter {
        Meter {
            started: Instant::now(),
            seconds: read(),
            read: Box::new(read),
        }
    }

    /// Percent of one core used since the start, and the time measured.
    pub fn percent(&self) -> (f64, Duration) {
        let elapsed = self.started.elapsed();
        let used = (self.read)() - self.seconds;
        (100.0 * used / elapsed.as_secs_f64().max(1e-9), elapsed)
    }
}

/// The `q`-quantile (0..=1) of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_parent_and_uses_cpu() {
        let me = std::process::id();
        assert!(parent(me).is_some());
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(process_seconds(me) > 0.0);
    }

    #[test]
    fn quantiles_pick_from_the_sorted_list() {
        let list: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&list, 0.99), 99.0);
        assert_eq!(quantile_ms(&list, 0.5), 51.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }
}
