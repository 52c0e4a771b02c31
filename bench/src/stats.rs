//! Summaries of measured times.
use std::time::Duration;

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The nearest-rank percentile (100: the maximum); zero when nothing was measured.
pub fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((p as f64 / 100.0) * sorted.len() as f64).ceil() as usize;
    match sorted.len() {
        0 => Duration::ZERO,
        len => sorted[rank.clamp(1, len) - 1],
    }
}

pub fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / times.len().max(1) as u32
}
