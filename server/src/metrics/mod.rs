//! Berth's metrics, in Prometheus' text format at `GET /metrics` (see `api::metrics` for who
//! may read them). Counters and histograms are recorded where things happen, through the
//! `metrics` facade, into this process's recorder; the figures that describe the whole
//! deployment (sessions by state, agents and their free capacity) are read from the database
//! at each scrape (`scrape`), so every replica reports the same ones. Names are below, one
//! place, each with its help text.
pub mod names;
pub mod scrape;
pub mod staging;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Histogram buckets, in seconds: from a fast HTTP answer (a millisecond) to a slow launch
/// (two minutes, the launch timeout).
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed as the global one on first use (by `berth serve` at
/// startup; once per process however many servers the tests start in it).
pub fn recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".into()),
                &DURATION_BUCKETS,
            )
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics will stay empty");
        }
        names::describe();
        handle
    })
}

/// One open stream (a desktop or a chat), counted in `berth_streams_active` while it lives.
pub struct ActiveStream {
    kind: &'static str,
}

impl ActiveStream {
    pub fn start(kind: &'static str) -> ActiveStream {
        metrics::gauge!(names::STREAMS_ACTIVE, "kind" => kind).increment(1.0);
        ActiveStream { kind }
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        metrics::gauge!(names::STREAMS_ACTIVE, "kind" => self.kind).decrement(1.0);
    }
}
