//! dozor's own metrics, served at `/metrics` in the Prometheus text format.
//! A small hand-written registry: the set of metrics is fixed, so there is
//! no need for a general client library.

use dozor_common::expo::{Encoder, MetricType};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default, Clone)]
struct Hist {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Hist {
    fn observe(&mut self, v: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }
}

/// A histogram family keyed by its label values.
#[derive(Default)]
struct HistVec(Mutex<BTreeMap<Vec<String>, Hist>>);

impl HistVec {
    fn observe(&self, labels: &[&str], v: f64) {
        let mut m = self.0.lock().expect("histogram lock");
        m.entry(labels.iter().map(|s| s.to_string()).collect())
            .or_default()
            .observe(v);
    }

    fn encode(&self, e: &mut Encoder, name: &str, help: &str, label_names: &[&str]) {
        e.family(name, help, MetricType::Histogram);
        let m = self.0.lock().expect("histogram lock");
        for (values, h) in m.iter() {
            let mut labels: Vec<(&str, &str)> = label_names
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            let bucket_name = format!("{name}_bucket");
            let les: Vec<String> = BUCKETS.iter().map(|b| b.to_string()).collect();
            for (i, le) in les.iter().enumerate() {
                labels.push(("le", le));
                e.sample(&bucket_name, &labels, h.counts[i] as f64);
                labels.pop();
            }
            labels.push(("le", "+Inf"));
            e.sample(&bucket_name, &labels, h.count as f64);
            labels.pop();
            e.sample(&format!("{name}_sum"), &labels, h.sum);
            e.sample(&format!("{name}_count"), &labels, h.count as f64);
        }
    }
}

#[derive(Default)]
struct CounterVec(Mutex<BTreeMap<Vec<String>, f64>>);

impl CounterVec {
    fn add(&self, labels: &[&str], v: f64) {
        let mut m = self.0.lock().expect("counter lock");
        *m.entry(labels.iter().map(|s| s.to_string()).collect())
            .or_default() += v;
    }

    fn encode(&self, e: &mut Encoder, name: &str, help: &str, label_names: &[&str]) {
        e.family(name, help, MetricType::Counter);
        let m = self.0.lock().expect("counter lock");
        for (values, v) in m.iter() {
            let labels: Vec<(&str, &str)> = label_names
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            e.sample(name, &labels, *v);
        }
    }
}

/// Values read at scrape time from elsewhere (storage, cache, process).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub active_series: u64,
    pub series_total: Option<u64>,
    pub agents_online: u64,
    pub agents_total: u64,
    pub resident_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub start_time_seconds: Option<u64>,
    pub query_samples_loaded: u64,
    pub query_rollup_buckets_loaded: u64,
    /// Outbox rows: (sent, pending, failed for good).
    pub notifications: Option<(i64, i64, i64)>,
    /// Enrolled agents that are not revoked: name and last heartbeat (ms).
    pub agents: Vec<(String, Option<i64>)>,
    /// Agents whose last report of their desired state carried an error.
    pub desired_failed: Vec<(String, bool)>,
    /// The database's background jobs (TimescaleDB's policies).
    pub jobs: Vec<crate::storage::BackgroundJob>,
}

#[derive(Default)]
pub struct Telemetry {
    ingest_samples: AtomicU64,
    ingest_duplicates: AtomicU64,
    ingest_dropped: CounterVec,
    ingest_rejected_series: CounterVec,
    ingest_batches: CounterVec,
    ingest_errors: CounterVec,
    storage_seconds: HistVec,
    storage_errors: CounterVec,
    http_seconds: HistVec,
    /// Per agent name: its clock minus the server's at its last heartbeat,
    /// in seconds. Only agents in the snapshot are exported, so revoked
    /// ones drop out.
    clock_offsets: Mutex<BTreeMap<String, f64>>,
}

impl Telemetry {
    pub fn clock_offset(&self, agent: &str, seconds: f64) {
        let mut m = self.clock_offsets.lock().expect("offsets lock");
        match m.get_mut(agent) {
            Some(v) => *v = seconds,
            None => {
                m.insert(agent.to_string(), seconds);
            }
        }
    }

    pub fn batch_ok(&self, stored: u64, duplicates: u64) {
        self.ingest_samples.fetch_add(stored, Relaxed);
        self.ingest_duplicates.fetch_add(duplicates, Relaxed);
        self.ingest_batches.add(&["ok"], 1.0);
    }

    pub fn samples_dropped(&self, reason: &str, n: u64) {
        if n > 0 {
            self.ingest_dropped.add(&[reason], n as f64);
        }
    }

    pub fn series_rejected(&self, reason: &str, n: u64) {
        if n > 0 {
            self.ingest_rejected_series.add(&[reason], n as f64);
        }
    }

    /// A heartbeat refused; `reason` is a short fixed word (bad_key,
    /// malformed, too_large, rate_limited, storage_unavailable, …).
    pub fn batch_error(&self, reason: &str) {
        self.ingest_batches.add(&["error"], 1.0);
        self.ingest_errors.add(&[reason], 1.0);
    }

    pub fn storage_op(&self, op: &str, took: Duration, ok: bool) {
        self.storage_seconds.observe(&[op], took.as_secs_f64());
        if !ok {
            self.storage_errors.add(&[op], 1.0);
        }
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.http_seconds
            .observe(&[method, route, &status.to_string()], took.as_secs_f64());
    }

    pub fn encode(&self, snap: &Snapshot) -> String {
        let mut e = Encoder::new();
        e.family(
            "dozor_ingest_samples_total",
            "Samples newly stored by ingest.",
            MetricType::Counter,
        );
        e.sample(
            "dozor_ingest_samples_total",
            &[],
            self.ingest_samples.load(Relaxed) as f64,
        );
        e.family(
            "dozor_ingest_duplicate_samples_total",
            "Samples received again and skipped (re-sent batches).",
            MetricType::Counter,
        );
        e.sample(
            "dozor_ingest_duplicate_samples_total",
            &[],
            self.ingest_duplicates.load(Relaxed) as f64,
        );
        self.ingest_dropped.encode(
            &mut e,
            "dozor_ingest_dropped_samples_total",
            "Samples of accepted series not stored, by reason (too_old: before the retention window; too_new: past the allowed clock skew; duplicate_timestamp: another value for a stored timestamp).",
            &["reason"],
        );
        self.ingest_rejected_series.encode(
            &mut e,
            "dozor_ingest_rejected_series_total",
            "Series refused alone while the rest of their write was stored, by reason (invalid_name, invalid_label, duplicate_label, nul_byte, label_limit).",
            &["reason"],
        );
        self.ingest_batches.encode(
            &mut e,
            "dozor_ingest_batches_total",
            "Heartbeat batches by result.",
            &["result"],
        );
        self.ingest_errors.encode(
            &mut e,
            "dozor_ingest_errors_total",
            "Refused heartbeat batches by reason.",
            &["reason"],
        );
        self.storage_seconds.encode(
            &mut e,
            "dozor_storage_operation_duration_seconds",
            "Latency of storage operations.",
            &["op"],
        );
        self.storage_errors.encode(
            &mut e,
            "dozor_storage_errors_total",
            "Failed storage operations.",
            &["op"],
        );
        self.http_seconds.encode(
            &mut e,
            "dozor_http_request_duration_seconds",
            "HTTP request latency by method, route and status.",
            &["method", "route", "status"],
        );
        for (name, help, v) in [
            (
                "dozor_query_samples_loaded_total",
                "Raw samples PromQL queries read from storage.",
                snap.query_samples_loaded,
            ),
            (
                "dozor_query_rollup_buckets_loaded_total",
                "Rollup buckets PromQL queries read instead of raw samples.",
                snap.query_rollup_buckets_loaded,
            ),
        ] {
            e.family(name, help, MetricType::Counter);
            e.sample(name, &[], v as f64);
        }
        let gauge = |e: &mut Encoder, name: &str, help: &str, v: f64| {
            e.family(name, help, MetricType::Gauge);
            e.sample(name, &[], v);
        };
        gauge(
            &mut e,
            "dozor_active_series",
            "Series written in the last 10 minutes.",
            snap.active_series as f64,
        );
        if let Some(n) = snap.series_total {
            gauge(&mut e, "dozor_series", "Series in the catalog.", n as f64);
        }
        if let Some((sent, pending, failed)) = snap.notifications {
            e.family(
                "dozor_notifications",
                "Alert notifications in the outbox by state; failed ones were given up on a permanent error.",
                MetricType::Gauge,
            );
            for (state, n) in [("sent", sent), ("pending", pending), ("failed", failed)] {
                e.sample("dozor_notifications", &[("state", state)], n as f64);
            }
        }
        gauge(
            &mut e,
            "dozor_agents_online",
            "Agents that sent a heartbeat recently.",
            snap.agents_online as f64,
        );
        gauge(
            &mut e,
            "dozor_agents",
            "Enrolled agents that are not revoked.",
            snap.agents_total as f64,
        );
        if let Some(v) = snap.resident_memory_bytes {
            gauge(
                &mut e,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                v as f64,
            );
        }
        if let Some(v) = snap.cpu_seconds {
            e.family(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                MetricType::Counter,
            );
            e.sample("process_cpu_seconds_total", &[], v);
        }
        if let Some(v) = snap.start_time_seconds {
            gauge(
                &mut e,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                v as f64,
            );
        }
        e.family(
            "dozor_agent_last_seen_timestamp_seconds",
            "When each enrolled agent last sent a heartbeat (the built-in HostDown rule reads it).",
            MetricType::Gauge,
        );
        for (name, seen) in &snap.agents {
            if let Some(ms) = seen {
                let v = *ms as f64 / 1000.0;
                e.sample(
                    "dozor_agent_last_seen_timestamp_seconds",
                    &[("host", name)],
                    v,
                );
            }
        }
        e.family(
            "dozor_agent_desired_state_failed",
            "1 when the agent's last report of its desired state carried an error (nginx refused the services' config, say), else 0 (the built-in HostConfigNotApplied rule reads it).",
            MetricType::Gauge,
        );
        for (name, failed) in &snap.desired_failed {
            e.sample(
                "dozor_agent_desired_state_failed",
                &[("host", name)],
                if *failed { 1.0 } else { 0.0 },
            );
        }
        e.family(
            "dozor_agent_clock_offset_seconds",
            "Each agent's clock minus the server's at its last heartbeat, network delay included (the built-in HostClockSkew rule reads it).",
            MetricType::Gauge,
        );
        {
            let offsets = self.clock_offsets.lock().expect("offsets lock");
            for (name, _) in &snap.agents {
                if let Some(v) = offsets.get(name) {
                    e.sample("dozor_agent_clock_offset_seconds", &[("host", name)], *v);
                }
            }
        }
        if !snap.jobs.is_empty() {
            type JobValue = fn(&crate::storage::BackgroundJob) -> f64;
            let families: [(&str, &str, MetricType, JobValue); 2] = [
                (
                    "dozor_storage_job_failures_total",
                    "Failed runs of each database background job (TimescaleDB's policies).",
                    MetricType::Counter,
                    |j| j.failures as f64,
                ),
                (
                    "dozor_storage_job_last_run_failed",
                    "1 when a database background job's last run failed.",
                    MetricType::Gauge,
                    |j| if j.last_failed { 1.0 } else { 0.0 },
                ),
            ];
            for (name, help, kind, value) in families {
                e.family(name, help, kind);
                for j in &snap.jobs {
                    let id = j.id.to_string();
                    let labels = [
                        ("job_id", id.as_str()),
                        ("proc", j.kind.as_str()),
                        ("table", j.table.as_str()),
                    ];
                    e.sample(name, &labels, value(j));
                }
            }
        }
        e.family("dozor_build_info", "dozor version.", MetricType::Gauge);
        e.sample(
            "dozor_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        e.finish()
    }
}

/// Process figures from sysinfo (dozor's own process only).
pub fn process_stats() -> (Option<u64>, Option<f64>, Option<u64>) {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = Pid::from_u32(std::process::id());
    let mut sys = System::new();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory().with_cpu(),
    );
    match sys.process(pid) {
        Some(p) => (
            Some(p.memory()),
            Some(p.accumulated_cpu_time() as f64 / 1000.0),
            Some(p.start_time()),
        ),
        None => (None, None, None),
    }
}
