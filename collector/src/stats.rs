//! The collector's own metrics (`dozor_collector_*`), shipped with every
//! pass so a struggling agent is visible on the server.

use crate::output::Output;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct AgentStats {
    pub passes: AtomicU64,
    pub collect_errors: AtomicU64,
    /// Duration of the last pass, in microseconds.
    pub last_collect_us: AtomicU64,
    pub heartbeats_ok: AtomicU64,
    pub samples_sent: AtomicU64,
    pub send_retry: AtomicU64,
    pub send_rejected: AtomicU64,
    pub send_unauthorized: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_rejected: AtomicU64,
    pub queued_samples: AtomicU64,
}

impl AgentStats {
    pub fn emit(&self, out: &mut Output) {
        let g = |a: &AtomicU64| a.load(Relaxed) as f64;
        out.push("dozor_collector_passes_total", &[], g(&self.passes));
        out.push(
            "dozor_collector_collect_errors_total",
            &[("input", "proc")],
            g(&self.collect_errors),
        );
        out.push(
            "dozor_collector_collect_duration_seconds",
            &[("input", "proc")],
            g(&self.last_collect_us) / 1e6,
        );
        out.push(
            "dozor_collector_heartbeats_total",
            &[],
            g(&self.heartbeats_ok),
        );
        out.push(
            "dozor_collector_samples_sent_total",
            &[],
            g(&self.samples_sent),
        );
        for (reason, v) in [
            ("retry", &self.send_retry),
            ("rejected", &self.send_rejected),
            ("unauthorized", &self.send_unauthorized),
        ] {
            out.push(
                "dozor_collector_send_errors_total",
                &[("reason", reason)],
                g(v),
            );
        }
        for (reason, v) in [
            ("queue_full", &self.dropped_queue_full),
            ("rejected", &self.dropped_rejected),
        ] {
            out.push(
                "dozor_collector_dropped_samples_total",
                &[("reason", reason)],
                g(v),
            );
        }
        out.push(
            "dozor_collector_queued_samples",
            &[],
            g(&self.queued_samples),
        );
    }
}
