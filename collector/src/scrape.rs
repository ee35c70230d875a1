//! Scraping `/metrics` endpoints: targets from the collector's config
//! (`target.rs`) and from Docker labels (`discover.rs`), one HTTP fetch
//! each with timeout and body limit (`fetch.rs`), and the scraper that
//! parses, labels, limits and marks stale series (`scraper.rs`). Each
//! target runs on its own interval and hands its samples to the agent's
//! queue, like host metrics. A target that goes away (its container
//! stopped) has its series marked stale.

pub mod discover;
pub mod fetch;
pub mod scraper;
pub mod target;

use crate::agent::{now_ms, Agent};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use scraper::{Scraper, Status};
pub use target::Target;

/// The client every scrape uses: a few redirects at most, no proxy from
/// the environment, dozor's user agent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("dozor-collector/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3))
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

/// Live statuses of the running targets, by target key.
pub type Statuses = Arc<Mutex<BTreeMap<String, Arc<Mutex<Status>>>>>;

struct Running {
    target: Target,
    stop: CancellationToken,
}

/// Starts and stops scrapers as the set of targets changes.
pub struct Manager {
    agent: Arc<Agent>,
    /// The collector's /metrics, when it serves one.
    pub expose: Option<crate::exposition::Shared>,
    http: reqwest::Client,
    running: BTreeMap<String, Running>,
    pub statuses: Statuses,
}

impl Manager {
    pub fn new(agent: Arc<Agent>) -> Self {
        Self {
            agent,
            expose: None,
            http: client(),
            running: BTreeMap::new(),
            statuses: Default::default(),
        }
    }

    /// Runs exactly `want`: new targets start, changed ones restart, gone
    /// ones stop (and mark their series stale).
    pub fn sync(&mut self, want: Vec<Target>, shutdown: &CancellationToken) {
        let want: BTreeMap<String, Target> = want.into_iter().map(|t| (t.key(), t)).collect();
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(k, r)| want.get(*k) != Some(&r.target))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(r) = self.running.remove(&k) {
                r.stop.cancel();
            }
            self.statuses.lock().expect("lock").remove(&k);
        }
        for (k, t) in want {
            if self.running.contains_key(&k) {
                continue;
            }
            let stop = shutdown.child_token();
            let mut scraper = Scraper::new(t.clone(), self.http.clone());
            scraper.expose = self.expose.clone();
            self.statuses
                .lock()
                .expect("lock")
                .insert(k.clone(), scraper.status.clone());
            tokio::spawn(run_one(scraper, self.agent.clone(), stop.clone()));
            self.running.insert(k, Running { target: t, stop });
        }
    }
}

async fn run_one(mut s: Scraper, agent: Arc<Agent>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(s.target.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stamps = dozor_common::stamps::Stamps::new(s.target.interval);
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                agent.enqueue(s.retire(now_ms()));
                return;
            }
            _ = tick.tick() => {
                agent.enqueue(s.scrape(stamps.stamp(now_ms())).await);
                agent.note_metadata(std::mem::take(&mut s.metadata));
            }
        }
    }
}

/// Runs static targets, and Docker-discovered ones when `docker` is set,
/// re-reading Docker every `refresh`. Without Docker (no socket) it says
/// so once and tries again now and then, so a Docker restart is picked up.
pub fn spawn(
    statics: Vec<Target>,
    docker: bool,
    refresh: Duration,
    default_interval: Duration,
    agent: Arc<Agent>,
    shutdown: CancellationToken,
) -> Statuses {
    let mut m = Manager::new(agent.clone());
    m.expose = agent.exposed();
    let statuses = m.statuses.clone();
    agent.report_scrapes(statuses.clone());
    tokio::spawn(async move {
        let mut discovery: Option<discover::DockerDiscovery> = None;
        let mut discovered: Vec<Target> = Vec::new();
        let mut said = false;
        loop {
            if docker && discovery.is_none() {
                match discover::DockerDiscovery::connect().await {
                    Ok(d) => discovery = Some(d),
                    Err(e) if !said => {
                        tracing::info!(error = %e, "Docker not reachable: no container discovery for now");
                        said = true;
                    }
                    Err(_) => {}
                }
            }
            if let Some(d) = &discovery {
                match d.targets(default_interval).await {
                    Ok(t) => discovered = t,
                    Err(e) => {
                        // Keep the last set: a Docker hiccup should not
                        // mark every container's series stale.
                        tracing::warn!(error = %e, "Docker discovery failed; keeping the last targets");
                        discovery = None;
                    }
                }
            }
            let mut want = statics.clone();
            want.extend(discovered.iter().cloned());
            for r in agent.remote_targets() {
                let spec = target::TargetSpec {
                    job: r.job.clone(),
                    url: r.url.clone(),
                    interval: r.interval,
                    format: r.format,
                    ..Default::default()
                };
                match spec.compile(default_interval) {
                    Ok(t) => want.push(t),
                    Err(e) => {
                        tracing::warn!(job = %r.job, url = %r.url, error = %e, "a target defined on the server is skipped")
                    }
                }
            }
            m.sync(want, &shutdown);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(refresh) => {}
                _ = agent.remote_changed.notified() => {}
            }
        }
    });
    statuses
}
