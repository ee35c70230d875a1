//! The agent loop: a collection task on a fixed interval feeding the send
//! queue, and a sender task draining it into a [`Sink`] with jittered
//! backoff. Collection never waits on the network.

pub use crate::backoff::Backoff;
use crate::output::Output;
use crate::proc::HostInput;
use crate::queue::SendQueue;
use crate::reports::{MetadataBook, Reported};
use crate::sink::{SendError, Sink};
use crate::stats::AgentStats;
use dozor_common::protocol::{HeartbeatRequest, HostInventory, Task, TaskResult};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub interval: Duration,
    /// Bound of the in-memory queue while the server is away.
    pub max_queued_samples: usize,
    /// Largest heartbeat when catching up on a backlog.
    pub max_batch_samples: usize,
    /// Wait after the server rejects the key, before asking again.
    pub unauthorized_wait: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            max_queued_samples: 1_000_000,
            max_batch_samples: 50_000,
            unauthorized_wait: Duration::from_secs(60),
        }
    }
}

pub struct Agent {
    input: HostInput,
    sink: Arc<dyn Sink>,
    cfg: AgentConfig,
    stats: Arc<AgentStats>,
    queue: Mutex<SendQueue>,
    /// The host pass's series, so one that goes (an interface, a mount)
    /// is marked stale at once.
    host_stale: Mutex<crate::staleness::Staleness>,
    wake: Notify,
    /// Scrape targets to report in heartbeats, once scraping starts.
    pub(crate) scrapes: std::sync::OnceLock<crate::scrape::Statuses>,
    /// The collector's /metrics, when it serves one.
    latest: std::sync::OnceLock<crate::exposition::Shared>,
    /// Scraped families' metadata owed to the server.
    pub(crate) metadata: Mutex<MetadataBook>,
    /// Scrape targets the server defined for this agent, and a signal
    /// for the scrape manager when they change.
    remote: Mutex<Vec<dozor_common::protocol::RemoteTarget>>,
    pub remote_changed: Notify,
    /// Containers' inventory and events owed to the server.
    pub containers: crate::docker::report::ContainerReport,
    /// Protection reports owed to the server.
    pub waf: crate::protection::Outbox,
    /// The certificates this host holds (with nginx on).
    pub certs: std::sync::OnceLock<Arc<crate::certs::Manager>>,
    /// The task runner, once started; heartbeat tasks go to it.
    tasks: std::sync::OnceLock<tokio::sync::mpsc::Sender<Task>>,
    /// The task kinds the runner has handlers for, announced to the server.
    task_kinds: std::sync::OnceLock<Vec<String>>,
    /// The desired-state sections this agent converges (once started).
    pub(crate) desired_sections: std::sync::OnceLock<Vec<String>>,
    /// How it runs the host's nginx, when it does.
    pub(crate) nginx_info: std::sync::OnceLock<dozor_common::services::NginxInfo>,
    /// The generation the server last named, and what was applied.
    pub(crate) desired_wanted: Mutex<Option<u64>>,
    pub(crate) desired_applied: Mutex<dozor_common::desired::Applied>,
    /// Rung when the server names a generation not applied yet.
    pub desired_changed: Notify,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Agent {
    pub fn new(input: HostInput, sink: Arc<dyn Sink>, cfg: AgentConfig) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(SendQueue::new(cfg.max_queued_samples)),
            host_stale: Mutex::default(),
            input,
            sink,
            cfg,
            stats: Arc::new(AgentStats::default()),
            wake: Notify::new(),
            scrapes: std::sync::OnceLock::new(),
            latest: std::sync::OnceLock::new(),
            metadata: Mutex::default(),
            remote: Mutex::new(Vec::new()),
            remote_changed: Notify::new(),
            containers: Default::default(),
            waf: Default::default(),
            certs: Default::default(),
            tasks: std::sync::OnceLock::new(),
            task_kinds: std::sync::OnceLock::new(),
            desired_sections: std::sync::OnceLock::new(),
            nginx_info: std::sync::OnceLock::new(),
            desired_wanted: Mutex::new(None),
            desired_applied: Mutex::new(Default::default()),
            desired_changed: Notify::new(),
        })
    }

    /// How often passes are collected and sent.
    pub fn interval(&self) -> Duration {
        self.cfg.interval
    }

    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }

    pub fn sink(&self) -> &dyn Sink {
        self.sink.as_ref()
    }

    pub fn set_task_runner(&self, tx: tokio::sync::mpsc::Sender<Task>, kinds: Vec<String>) {
        let _ = self.tasks.set(tx);
        let _ = self.task_kinds.set(kinds);
    }

    /// The task kinds this agent can run (none before the runner starts).
    pub fn task_kinds(&self) -> Vec<String> {
        self.task_kinds.get().cloned().unwrap_or_default()
    }

    /// Runs until `shutdown`, then makes one last attempt to flush.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let sender = tokio::spawn(self.clone().send_loop(shutdown.clone()));
        let mut tick = tokio::time::interval(self.cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stamps = dozor_common::stamps::Stamps::new(self.cfg.interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => self.collect_at(stamps.stamp(now_ms())).await,
            }
        }
        let _ = sender.await;
    }

    /// The targets the server defined for this agent.
    pub fn remote_targets(&self) -> Vec<dozor_common::protocol::RemoteTarget> {
        self.remote.lock().expect("remote lock").clone()
    }

    pub fn set_remote_targets(&self, t: Vec<dozor_common::protocol::RemoteTarget>) {
        let mut have = self.remote.lock().expect("remote lock");
        if *have != t {
            *have = t;
            self.remote_changed.notify_one();
        }
    }

    /// Keeps the latest pass (and scrapes) for the collector's /metrics.
    pub fn expose(&self, latest: crate::exposition::Shared) {
        let _ = self.latest.set(latest);
    }

    pub fn exposed(&self) -> Option<crate::exposition::Shared> {
        self.latest.get().cloned()
    }

    /// Queues samples from another input (scrapes) for the next heartbeat.
    pub fn enqueue(&self, series: Vec<dozor_common::SeriesBatch>) {
        if series.is_empty() {
            return;
        }
        let dropped = {
            let mut q = self.queue.lock().expect("queue lock");
            let d = q.push(series);
            self.stats.queued_samples.store(q.samples() as u64, Relaxed);
            d
        };
        if dropped > 0 {
            self.stats
                .dropped_queue_full
                .fetch_add(dropped as u64, Relaxed);
            tracing::warn!(dropped, "send queue full: dropped the oldest samples");
        }
        self.wake.notify_one();
    }

    /// One collection pass into the queue, its samples stamped `ts_ms`.
    pub async fn collect_at(&self, ts_ms: i64) {
        let input = self.input.clone();
        let started = Instant::now();
        let res = tokio::task::spawn_blocking(move || {
            let mut out = Output::new(ts_ms);
            let errors = input.collect(&mut out);
            (out, errors)
        })
        .await;
        let (mut out, errors) = match res {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "collection task failed");
                self.stats.collect_errors.fetch_add(1, Relaxed);
                return;
            }
        };
        for e in &errors {
            tracing::warn!(error = %e, "host metric source failed");
        }
        let s = &self.stats;
        s.collect_errors.fetch_add(errors.len() as u64, Relaxed);
        s.passes.fetch_add(1, Relaxed);
        s.last_collect_us
            .store(started.elapsed().as_micros() as u64, Relaxed);
        s.emit(&mut out);
        if let Some(l) = self.latest.get() {
            l.lock().expect("latest lock").set_host(&out);
        }
        self.metadata
            .lock()
            .expect("metadata lock")
            .record_host(&out);
        let mut series = out.into_series();
        self.host_stale
            .lock()
            .expect("staleness lock")
            .mark(&mut series, ts_ms);
        let dropped = {
            let mut q = self.queue.lock().expect("queue lock");
            let d = q.push(series);
            s.queued_samples.store(q.samples() as u64, Relaxed);
            d
        };
        if dropped > 0 {
            s.dropped_queue_full.fetch_add(dropped as u64, Relaxed);
            tracing::warn!(dropped, "send queue full: dropped the oldest samples");
        }
        self.wake.notify_one();
    }

    async fn send_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let mut backoff = Backoff::new();
        let mut inventory_sent: Option<HostInventory> = None;
        let mut results: Vec<TaskResult> = Vec::new();
        let mut seen_tasks = crate::tasks::SeenTasks::default();
        let mut reported = Reported::default();
        loop {
            let stopping = shutdown.is_cancelled();
            let passes = self
                .queue
                .lock()
                .expect("queue lock")
                .take(self.cfg.max_batch_samples);
            if passes.is_empty() {
                if stopping {
                    return;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = self.wake.notified() => {}
                }
                continue;
            }
            let inventory = crate::inventory::read(self.input.root());
            let send_inventory = inventory_sent.as_ref() != Some(&inventory);
            let (containers, container_events) = self.containers.take();
            let waf = self.waf.take();
            let certificates = self.certs_due();
            let (metadata_due, metadata_version) =
                self.metadata.lock().expect("metadata lock").due();
            let req = HeartbeatRequest {
                containers: containers.clone(),
                container_events: container_events.clone(),
                inventory: send_inventory.then(|| inventory.clone()),
                series: passes.iter().flatten().cloned().collect(),
                task_results: results.clone(),
                scrape_targets: self.scrape_snapshot().filter(|s| reported.due(s)),
                capabilities: Some(self.capabilities()),
                desired_applied: self.desired_sections.get().map(|_| self.desired_applied()),
                metadata: metadata_due,
                waf: (!waf.is_empty()).then(|| waf.clone()),
                certificates: certificates.clone(),
                // Read last, just before sending: retries build a new request.
                sent_ms: Some(now_ms()),
            };
            let req_targets = req.scrape_targets.clone();
            let sent_metadata = !req.metadata.is_empty();
            let n = req.sample_count() as u64;
            let send = self.sink.send(req);
            // On shutdown give the final flush a bounded time.
            let outcome = if stopping {
                match tokio::time::timeout(Duration::from_secs(5), send).await {
                    Ok(o) => o,
                    Err(_) => return,
                }
            } else {
                send.await
            };
            let wait = match outcome {
                Ok(resp) => {
                    backoff.reset();
                    if let Some(s) = &req_targets {
                        reported.sent(s);
                    }
                    self.certs_delivered(certificates);
                    if sent_metadata {
                        self.metadata
                            .lock()
                            .expect("metadata lock")
                            .sent(metadata_version);
                    }
                    self.stats.heartbeats_ok.fetch_add(1, Relaxed);
                    self.stats.samples_sent.fetch_add(n, Relaxed);
                    if !resp.rejected.is_empty() {
                        // The rest of the batch is stored; what the server
                        // refused will not become valid by sending it again.
                        tracing::warn!(
                            series = resp.rejected.series,
                            samples = resp.rejected.samples,
                            reasons = %resp.rejected.examples.join("; "),
                            "the server refused part of a batch"
                        );
                        self.stats
                            .dropped_rejected
                            .fetch_add(resp.rejected.samples, Relaxed);
                    }
                    if send_inventory {
                        inventory_sent = Some(inventory);
                    }
                    self.containers.accepted(containers);
                    // A server before protocol 2 sends the targets themselves.
                    if let Some(t) = resp.scrape_targets {
                        self.set_remote_targets(t);
                    }
                    if let Some(g) = resp.desired_generation {
                        self.desired_named(g);
                    }
                    results = match self.tasks.get() {
                        Some(runner) => {
                            for t in resp.tasks {
                                crate::tasks::hand_over(runner, t);
                            }
                            Vec::new()
                        }
                        None => resp
                            .tasks
                            .into_iter()
                            .filter(|t| seen_tasks.first_time(t.id))
                            .map(crate::tasks::unsupported)
                            .collect(),
                    };
                    None
                }
                Err(SendError::Rejected(msg)) => {
                    // Never retried (remote-write contract): a bad batch
                    // would otherwise block every later one.
                    tracing::error!(error = %msg, samples = n, "server rejected a batch; dropping it");
                    self.stats.send_rejected.fetch_add(1, Relaxed);
                    self.stats.dropped_rejected.fetch_add(n, Relaxed);
                    None
                }
                Err(SendError::Unauthorized(msg)) => {
                    tracing::error!(error = %msg, "the server does not accept this agent's key (revoked or unknown). Samples are kept in memory; to enrol again delete agent.json in the state dir and restart with --enroll-token");
                    self.stats.send_unauthorized.fetch_add(1, Relaxed);
                    self.put_back(passes, container_events, waf);
                    Some(self.cfg.unauthorized_wait)
                }
                Err(SendError::Retry { message, after }) => {
                    let d = after.unwrap_or_else(|| backoff.next_delay());
                    tracing::warn!(error = %message, retry_in = ?d, "heartbeat failed; will retry");
                    self.stats.send_retry.fetch_add(1, Relaxed);
                    self.put_back(passes, container_events, waf);
                    Some(d)
                }
            };
            if stopping {
                return;
            }
            if let Some(d) = wait {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(d) => {}
                }
            }
        }
    }

    /// A heartbeat that did not land: its samples and reports go out with
    /// the next one.
    fn put_back(
        &self,
        passes: Vec<Vec<dozor_common::SeriesBatch>>,
        events: Vec<dozor_common::containers::ContainerEvent>,
        waf: dozor_common::protection::WafReport,
    ) {
        self.requeue(passes);
        self.containers.restore(events);
        self.waf.restore(waf);
    }

    fn requeue(&self, passes: Vec<Vec<dozor_common::SeriesBatch>>) {
        let mut q = self.queue.lock().expect("queue lock");
        let dropped = q.requeue(passes);
        self.stats.queued_samples.store(q.samples() as u64, Relaxed);
        self.stats
            .dropped_queue_full
            .fetch_add(dropped as u64, Relaxed);
    }
}
