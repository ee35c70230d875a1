//! Traffic: nginx's access log as the agent's sensor. dozor's config has
//! nginx write one JSON line per request (`log_format dozor_json`); a
//! thread follows the file (`follow`), each line is counted per service
//! (`tally`), and every interval the counts go to the server with nginx's
//! own connection gauges (`stub_status`). The agent rotates the log itself
//! once it is large (rename, `nginx -s reopen`), since the file is in its
//! own directory where logrotate does not look.

pub mod follow;
pub mod line;
pub mod stub_status;
pub mod tally;

use crate::agent::{now_ms, Agent};
use crate::nginx::driver::Driver;
use crate::output::Output;
use dozor_common::expo::MetricType;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the follower looks for new lines.
const POLL: Duration = Duration::from_millis(200);

/// Where nginx's `stub_status` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAt {
    /// 127.0.0.1:PORT (nginx on this host).
    Loopback(u16),
    /// PORT on the network address of this container (looked up each
    /// time: it changes when the container is recreated).
    Container(String, u16),
}

impl StatusAt {
    async fn address(&self) -> Result<(std::net::IpAddr, u16), String> {
        match self {
            Self::Loopback(port) => Ok((std::net::Ipv4Addr::LOCALHOST.into(), *port)),
            Self::Container(name, port) => {
                Ok((crate::nginx::container::container_ip(name).await?, *port))
            }
        }
    }
}

pub struct Traffic {
    log: PathBuf,
    status_at: Option<StatusAt>,
    max_bytes: u64,
    driver: Arc<dyn Driver>,
    sensor: Mutex<Sensor>,
    rotations: std::sync::atomic::AtomicU64,
    /// Rung when a rule blocked an address: nginx should deny it now.
    pub blocks_changed: tokio::sync::Notify,
}

/// Where each line goes: the counts and the protection rules, parsed
/// once for both.
#[derive(Default)]
pub struct Sensor {
    pub tally: tally::Tally,
    pub guard: crate::protection::Guard,
}

impl follow::Lines for Sensor {
    fn line(&mut self, raw: &[u8]) {
        self.tally.read_one();
        match line::parse(raw) {
            Ok(hit) => {
                self.guard.observe(&hit, now_ms());
                self.tally.hit(&hit);
            }
            Err(why) => self.tally.skip(why),
        }
    }

    fn skip(&mut self, why: line::Skip) {
        self.tally.read_one();
        self.tally.skip(why);
    }
}

impl Traffic {
    /// `dir` is the agent's nginx directory, where the log is written.
    pub fn new(
        dir: &str,
        status_at: Option<StatusAt>,
        max_bytes: u64,
        driver: Arc<dyn Driver>,
    ) -> Arc<Self> {
        Arc::new(Self {
            log: PathBuf::from(dir).join(dozor_common::services::render::ACCESS_LOG),
            status_at,
            max_bytes,
            driver,
            sensor: Mutex::new(Sensor::default()),
            rotations: Default::default(),
            blocks_changed: tokio::sync::Notify::new(),
        })
    }

    /// The services this host serves now (the only ones counted).
    pub fn set_known(&self, names: impl IntoIterator<Item = String>) {
        self.sensor().tally.set_known(names);
    }

    /// The counts and the protection state, locked.
    pub fn sensor(&self) -> std::sync::MutexGuard<'_, Sensor> {
        self.sensor.lock().expect("sensor lock")
    }

    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    /// Renames a log past its size limit and has nginx reopen it; the
    /// follower drains the old file.
    async fn rotate_if_large(&self) {
        let Ok(m) = std::fs::metadata(&self.log) else {
            return;
        };
        if m.len() <= self.max_bytes {
            return;
        }
        let old = self.log.with_extension("log.1");
        if let Err(e) = std::fs::rename(&self.log, &old) {
            tracing::warn!(error = %e, "cannot rotate the access log");
            return;
        }
        match self.driver.reopen().await {
            Ok(()) => {
                self.rotations
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(bytes = m.len(), "access log rotated");
            }
            Err(e) => tracing::warn!(error = %e, "nginx did not reopen its access log"),
        }
    }

    /// One interval's series, stamped `ts_ms`.
    async fn collect(&self, ts_ms: i64, seen: &mut HashSet<String>, since_ms: i64) -> Output {
        let mut out = Output::new(ts_ms);
        {
            let sensor = self.sensor();
            sensor.tally.emit(&mut out, seen, since_ms);
            sensor.guard.emit(&mut out, ts_ms);
        }
        if let Some(at) = &self.status_at {
            let status = match at.address().await {
                Ok((ip, port)) => {
                    stub_status::fetch(ip, port, dozor_common::services::render::STATUS_PATH).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = &status {
                tracing::debug!(error = %e, "stub_status not read");
            }
            stub_status::emit(&mut out, &status);
        }
        out.push(
            "dozor_http_log_rotations_total",
            &[],
            self.rotations.load(std::sync::atomic::Ordering::Relaxed) as f64,
        );
        out
    }
}

/// Starts the follower thread and the interval that sends the counts.
pub fn spawn(agent: Arc<Agent>, traffic: Arc<Traffic>, shutdown: CancellationToken) {
    let t = traffic.clone();
    let stop = shutdown.clone();
    let follower = std::thread::Builder::new()
        .name("dozor-access-log".into())
        .spawn(move || {
            let mut f = follow::Follower::new(t.log.clone());
            let mut failing = false;
            while !stop.is_cancelled() {
                let (res, news) = {
                    let mut sensor = t.sensor();
                    let res = f.poll(&mut *sensor);
                    (res, sensor.guard.is_dirty())
                };
                if news {
                    t.blocks_changed.notify_one();
                }
                match res {
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, path = %t.log.display(), "cannot read the access log");
                        failing = true;
                    }
                    Err(_) => {}
                    Ok(()) => failing = false,
                }
                std::thread::sleep(POLL);
            }
        });
    if let Err(e) = follower {
        tracing::error!(error = %e, "cannot start the access log follower");
        return;
    }
    tokio::spawn(async move {
        let interval = agent.interval();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stamps = dozor_common::stamps::Stamps::new(interval);
        let mut seen = HashSet::new();
        let mut stale = crate::staleness::Staleness::default();
        let mut since = now_ms();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            traffic.rotate_if_large().await;
            let ts = stamps.stamp(now_ms());
            let out = traffic.collect(ts, &mut seen, since).await;
            since = ts;
            if let Some(l) = agent.exposed() {
                l.lock()
                    .expect("latest lock")
                    .set_scrape("nginx-access-log", families(&out));
            }
            let report = traffic.sensor().guard.take_report();
            agent.waf.push(report);
            let mut series = out.into_series();
            agent.note_metadata(metadata(&series));
            stale.mark(&mut series, ts);
            agent.enqueue(series);
        }
    });
}

/// The family a sample belongs to, with its type and help.
pub fn describe(sample: &str) -> (&str, MetricType, &'static str) {
    for family in [
        "dozor_http_request_duration_seconds",
        "dozor_http_upstream_duration_seconds",
    ] {
        if let Some(rest) = sample.strip_prefix(family) {
            if matches!(rest, "_bucket" | "_sum" | "_count") {
                let help = if family.contains("upstream") {
                    "Time the upstreams of a service took to answer, from nginx's access log."
                } else {
                    "Time nginx took to answer a service's requests, from its access log."
                };
                return (family, MetricType::Histogram, help);
            }
        }
    }
    let (kind, help) = match sample {
        "dozor_http_requests_total" => (
            MetricType::Counter,
            "Requests to a service by status code, from nginx's access log.",
        ),
        "dozor_http_response_bytes_total" => (
            MetricType::Counter,
            "Response body bytes a service sent, from nginx's access log.",
        ),
        "dozor_http_log_lines_total" => (MetricType::Counter, "Access log lines read."),
        "dozor_http_log_lines_skipped_total" => (
            MetricType::Counter,
            "Access log lines not counted, by reason.",
        ),
        "dozor_http_log_rotations_total" => (
            MetricType::Counter,
            "Times the agent rotated the access log.",
        ),
        "dozor_waf_blocks_total" => (
            MetricType::Counter,
            "Addresses this host blocked, by service and rule.",
        ),
        "dozor_waf_dry_run_blocks_total" => (
            MetricType::Counter,
            "Blocks rules in dry-run mode would have made.",
        ),
        "dozor_waf_blocked_addresses" => (
            MetricType::Gauge,
            "Addresses and networks nginx denies now on this host.",
        ),
        "dozor_waf_denied_requests_total" => (
            MetricType::Counter,
            "Requests from blocked addresses nginx denied.",
        ),
        "dozor_waf_untracked_requests_total" => (
            MetricType::Counter,
            "Requests the rules could not count: too many addresses at once.",
        ),
        "nginx_up" => (
            MetricType::Gauge,
            "Whether nginx's stub_status page could be read.",
        ),
        "nginx_connections_accepted" => (MetricType::Counter, "Client connections nginx accepted."),
        "nginx_connections_handled" => (MetricType::Counter, "Client connections nginx handled."),
        "nginx_http_requests_total" => (MetricType::Counter, "Client requests nginx received."),
        "nginx_connections_active" => (
            MetricType::Gauge,
            "Client connections open now, waiting ones included.",
        ),
        "nginx_connections_reading" => (
            MetricType::Gauge,
            "Connections where nginx is reading the request header.",
        ),
        "nginx_connections_writing" => (
            MetricType::Gauge,
            "Connections where nginx is writing the response.",
        ),
        "nginx_connections_waiting" => (MetricType::Gauge, "Idle keep-alive connections."),
        _ => (MetricType::Untyped, "Read by dozor-collector."),
    };
    (sample, kind, help)
}

fn families(out: &Output) -> crate::exposition::Families {
    let mut f = crate::exposition::Families::new();
    for s in out.series() {
        let Some(last) = s.samples.last() else {
            continue;
        };
        let (family, kind, help) = describe(&s.name);
        crate::exposition::add(
            &mut f,
            family,
            kind,
            help,
            &s.name,
            s.labels.clone(),
            last.value,
        );
    }
    f
}

fn metadata(series: &[dozor_common::SeriesBatch]) -> Vec<dozor_common::protocol::MetricMetadata> {
    let mut families: Vec<(&str, MetricType, &str)> =
        series.iter().map(|s| describe(&s.name)).collect();
    families.sort_unstable_by_key(|(f, _, _)| *f);
    families.dedup_by_key(|(f, _, _)| *f);
    families
        .into_iter()
        .map(
            |(family, kind, help)| dozor_common::protocol::MetricMetadata {
                metric: family.to_string(),
                kind: kind.prometheus_name().into(),
                help: help.into(),
                unit: String::new(),
            },
        )
        .collect()
}
