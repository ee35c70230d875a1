//! Containers through the Docker Engine API (bollard, DOCKER_HOST
//! honoured): each interval, every container's state, health and restart
//! count, and for the running ones one-shot stats gathered concurrently,
//! as cAdvisor-named series (`stats.rs`). Without Docker the input reports
//! nothing, says so once, and tries again each interval, so a Docker
//! restart is picked up. The same pass builds the inventory (`inventory.rs`)
//! the agent sends when it changes; `events.rs` follows Docker's event
//! stream; `logs.rs` and `actions.rs` run the server's container tasks.
//! Only `actions.rs` changes anything, and only for the task kinds it
//! knows.

pub mod actions;
pub mod events;
pub mod help;
pub mod inventory;
pub mod logs;
pub mod replicas;
pub mod report;
pub mod stats;
pub mod tasks;

use crate::agent::{now_ms, Agent};
use crate::output::Output;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions, StatsOptions};
use bollard::Docker;
use dozor_common::containers::ContainerInfo;
use dozor_common::SeriesBatch;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The states `dozor_container_state` reports, 1 for the current one.
pub const STATES: [&str; 7] = [
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];

#[derive(Default)]
pub struct DockerInput {
    docker: Option<Docker>,
    said: bool,
    /// Every container of the last pass that listed them; None when the
    /// pass could not (Docker away or failing), so a hiccup never reads
    /// as every container gone.
    pub inventory: Option<Vec<ContainerInfo>>,
    /// OOM kills per container name, counted by `events.rs`.
    pub oom: Arc<Mutex<HashMap<String, u64>>>,
    /// The series of the last pass that listed containers: a removed
    /// container's series are marked stale at once.
    stale: crate::staleness::Staleness,
    /// When the first pass ran, and the containers (ids) the last pass
    /// saw: a container created after the first pass and met with
    /// restarts already counted gets its counter's zero at its creation.
    first_pass_ms: Option<i64>,
    seen: HashSet<String>,
    /// The actions policy, so each container's inventory says whether the
    /// agent would act on it.
    pub policy: actions::Policy,
}

/// What one container contributes, gathered in its own task.
struct One {
    id: String,
    created_ms: Option<i64>,
    name: String,
    image: String,
    service: Option<String>,
    /// Its `dozor.service` label: the service it serves.
    dozor_service: Option<String>,
    state: String,
    health: Option<String>,
    restarts: Option<i64>,
    /// HostConfig.Memory: 0 when the container has no limit.
    memory_limit: Option<i64>,
    /// (quota, period) in microseconds when the container has a CPU
    /// limit (`--cpus` sets NanoCpus; `--cpu-quota` the pair itself).
    cpu_limit: Option<(i64, i64)>,
    exit_code: Option<i64>,
    stats: Option<bollard::models::ContainerStatsResponse>,
    info: Option<ContainerInfo>,
}

/// The name Docker shows (without the leading `/`), else the short id.
pub fn container_name(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| c.id.as_ref().map(|i| i.chars().take(12).collect()))
        .unwrap_or_default()
}

/// A container's CPU limit as cAdvisor reports it: (quota, period) µs.
fn cpu_limit(h: &bollard::models::HostConfig) -> Option<(i64, i64)> {
    const PERIOD: i64 = 100_000;
    match (h.nano_cpus, h.cpu_quota, h.cpu_period) {
        (Some(n), _, _) if n > 0 => Some((n * PERIOD / 1_000_000_000, PERIOD)),
        (_, Some(q), p) if q > 0 => Some((q, p.filter(|p| *p > 0).unwrap_or(PERIOD))),
        _ => None,
    }
}

async fn gather(docker: Docker, c: ContainerSummary, name: String) -> Option<One> {
    let id = c.id.clone()?;
    let state = c.state.map(|s| s.to_string()).unwrap_or_default();
    let inspect = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .ok();
    let st = inspect.as_ref().and_then(|i| i.state.as_ref());
    let health = st
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .map(|h| h.to_string())
        .filter(|h| !h.is_empty() && h != "none");
    let stats = if state == "running" {
        let opts = StatsOptions {
            stream: false,
            one_shot: true,
        };
        docker
            .stats(&id, Some(opts))
            .next()
            .await
            .and_then(Result::ok)
    } else {
        None
    };
    let labels = c.labels.unwrap_or_default();
    let image = c.image.unwrap_or_default();
    Some(One {
        created_ms: c.created.map(|s| s * 1000),
        id,
        info: inspect.as_ref().map(|i| inventory::info(i, &name, &image)),
        name,
        image,
        service: labels.get("com.docker.compose.service").cloned(),
        dozor_service: labels.get(dozor_common::services::SERVICE_LABEL).cloned(),
        restarts: inspect.as_ref().and_then(|i| i.restart_count),
        cpu_limit: inspect
            .as_ref()
            .and_then(|i| i.host_config.as_ref())
            .and_then(cpu_limit),
        memory_limit: inspect
            .as_ref()
            .and_then(|i| i.host_config.as_ref())
            .map(|h| h.memory.unwrap_or(0).max(0)),
        exit_code: st.and_then(|s| s.exit_code),
        health,
        state,
        stats,
    })
}

impl DockerInput {
    async fn connect(&mut self) -> Option<Docker> {
        if let Some(d) = &self.docker {
            return Some(d.clone());
        }
        let d = match Docker::connect_with_defaults() {
            Ok(d) => d.negotiate_version().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match d {
            Ok(d) => {
                self.said = false;
                self.docker = Some(d.clone());
                Some(d)
            }
            Err(e) => {
                if !self.said {
                    tracing::info!(error = %e, "Docker not reachable: no container metrics for now");
                    self.said = true;
                }
                None
            }
        }
    }

    /// One pass over every container.
    pub async fn collect(&mut self, now_ms: i64) -> Vec<SeriesBatch> {
        // Kept, not taken: a pass that fails before its list (Docker slow
        // or away) leaves the last inventory in place, so the next pass
        // can fall back on it for a container it cannot inspect.
        let previous = self.inventory.clone().unwrap_or_default();
        let Some(docker) = self.connect().await else {
            return Vec::new();
        };
        let list = match docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "Docker stopped answering; will reconnect");
                self.docker = None;
                return Vec::new();
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for c in list {
            let name = container_name(&c);
            let docker = docker.clone();
            tasks.spawn(gather(docker, c, name));
        }
        let mut out = Output::new(now_ms);
        let mut all: Vec<One> = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Ok(Some(one)) = r {
                all.push(one);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        // A container whose inspect failed this time keeps its last entry.
        let policy = self.policy;
        self.inventory = Some(
            all.iter()
                .filter_map(|o| {
                    o.info
                        .clone()
                        .or_else(|| previous.iter().find(|p| p.name == o.name).cloned())
                })
                .map(|mut i| {
                    i.actions_refused = policy.refusal(&i.name, &i.labels);
                    i
                })
                .collect(),
        );
        let oom = self.oom.lock().expect("oom lock").clone();
        let since = *self.first_pass_ms.get_or_insert(now_ms);
        for o in &all {
            let who = stats::Who {
                container: &o.name,
                image: &o.image,
                compose_service: o.service.as_deref(),
                service: o.dozor_service.as_deref(),
            };
            for s in STATES {
                out.push(
                    "dozor_container_state",
                    &who.labels(&[("state", s)]),
                    if o.state == s { 1.0 } else { 0.0 },
                );
            }
            let l = who.labels(&[]);
            if let Some(r) = o.restarts {
                let name = "dozor_container_restarts_total";
                match o.created_ms {
                    Some(c) if r > 0 && c > since && !self.seen.contains(&o.id) => {
                        out.push_from_zero(name, &l, c, r as f64)
                    }
                    _ => out.push(name, &l, r as f64),
                }
            }
            // From the first pass on, so increase() sees the first kill.
            let kills = oom.get(&o.name).copied().unwrap_or(0);
            out.push("dozor_container_oom_kills_total", &l, kills as f64);
            if let Some(code) = o.exit_code {
                out.push("dozor_container_exit_code", &l, code as f64);
            }
            if let Some(h) = &o.health {
                for status in ["starting", "healthy", "unhealthy"] {
                    out.push(
                        "dozor_container_health",
                        &who.labels(&[("health", status)]),
                        if h == status { 1.0 } else { 0.0 },
                    );
                }
            }
            // cAdvisor's spec: the configured limit, 0 when there is none
            // (Docker's stats would give the host's RAM).
            // cAdvisor's CPU spec, only for a limited container (what
            // "% of the limit" divides by; unlimited counts as one core).
            if let Some((quota, period)) = o.cpu_limit {
                out.push("container_spec_cpu_quota", &l, quota as f64);
                out.push("container_spec_cpu_period", &l, period as f64);
            }
            if let Some(limit) = o.memory_limit {
                out.push("container_spec_memory_limit_bytes", &l, limit as f64);
            }
            if let Some(s) = &o.stats {
                stats::emit(&mut out, &who, s);
            }
        }
        self.seen = all.iter().map(|o| o.id.clone()).collect();
        let mut series = out.into_series();
        self.stale.mark(&mut series, now_ms);
        series
    }
}

/// Collects containers every `interval` into the agent's queue, hands the
/// inventory to the agent, and follows Docker's events.
pub fn spawn(
    agent: Arc<Agent>,
    interval: Duration,
    policy: actions::Policy,
    shutdown: CancellationToken,
) {
    let input = DockerInput {
        policy,
        ..Default::default()
    };
    events::spawn(agent.clone(), input.oom.clone(), shutdown.clone());
    tokio::spawn(async move {
        let mut input = input;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stamps = dozor_common::stamps::Stamps::new(interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let series = input.collect(stamps.stamp(now_ms())).await;
                    if let Some(l) = agent.exposed() {
                        l.lock().expect("latest lock").set_containers(&series);
                    }
                    agent.note_metadata(help::metadata(&series));
                    if let Some(list) = input.inventory.clone() {
                        agent.containers.set_inventory(list);
                    }
                    agent.enqueue(series);
                }
            }
        }
    });
}

/// A Docker connection for one task, honouring DOCKER_HOST.
pub async fn connect() -> Result<Docker, String> {
    let d = Docker::connect_with_defaults().map_err(|e| format!("Docker not reachable: {e}"))?;
    d.negotiate_version()
        .await
        .map_err(|e| format!("Docker not reachable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::HostConfig;

    #[test]
    fn cpu_limits_read_as_cadvisor_reports_them() {
        let h = |nano, quota, period| HostConfig {
            nano_cpus: nano,
            cpu_quota: quota,
            cpu_period: period,
            ..Default::default()
        };
        // --cpus 1.5
        assert_eq!(
            cpu_limit(&h(Some(1_500_000_000), None, None)),
            Some((150_000, 100_000))
        );
        // --cpu-quota 50000 --cpu-period 200000
        assert_eq!(
            cpu_limit(&h(None, Some(50_000), Some(200_000))),
            Some((50_000, 200_000))
        );
        assert_eq!(cpu_limit(&h(Some(0), Some(0), Some(0))), None);
        assert_eq!(cpu_limit(&h(None, None, None)), None);
    }
}
