//! Docker's event stream for containers: start, die, oom, health_status,
//! restart and the rest of a container's life, queued for the server's
//! timeline, with OOM kills counted for `dozor_container_oom_kills_total`.
//! The stream reconnects when Docker restarts and resumes from the last
//! event it saw, so a short gap loses nothing.

use crate::agent::Agent;
use bollard::query_parameters::EventsOptions;
use dozor_common::containers::ContainerEvent;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const ACTIONS: [&str; 11] = [
    "create",
    "start",
    "restart",
    "die",
    "oom",
    "kill",
    "stop",
    "pause",
    "unpause",
    "destroy",
    "health_status",
];

/// The event as dozor stores it, or None for ones it does not keep.
/// Docker names health changes `health_status: healthy`.
pub fn convert(m: &bollard::models::EventMessage) -> Option<ContainerEvent> {
    let raw = m.action.as_deref()?;
    let (action, status) = match raw.split_once(':') {
        Some((a, s)) => (a.trim(), Some(s.trim().to_string())),
        None => (raw, None),
    };
    if !ACTIONS.contains(&action) {
        return None;
    }
    let attrs = m.actor.as_ref()?.attributes.as_ref()?;
    let container = attrs.get("name")?.clone();
    let detail = match action {
        "die" => attrs.get("exitCode").map(|c| format!("exit code {c}")),
        "kill" => attrs.get("signal").map(|s| format!("signal {s}")),
        _ => status,
    };
    let ts_ms = m
        .time_nano
        .map(|n| n / 1_000_000)
        .or(m.time.map(|s| s * 1000))
        .unwrap_or_else(crate::agent::now_ms);
    Some(ContainerEvent {
        ts_ms,
        container,
        action: action.to_string(),
        detail,
    })
}

pub fn spawn(agent: Arc<Agent>, oom: Arc<Mutex<HashMap<String, u64>>>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut last_nano: i64 = 0;
        loop {
            if let Ok(docker) = super::connect().await {
                let mut filters = HashMap::new();
                filters.insert("type".to_string(), vec!["container".to_string()]);
                let opts = EventsOptions {
                    since: (last_nano > 0).then(|| (last_nano / 1_000_000_000).to_string()),
                    filters: Some(filters),
                    ..Default::default()
                };
                let mut stream = docker.events(Some(opts));
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => return,
                        n = stream.next() => n,
                    };
                    let Some(Ok(m)) = next else { break };
                    let nano = m.time_nano.unwrap_or(0);
                    // Resuming from a whole second repeats what was seen.
                    if nano != 0 && nano <= last_nano {
                        continue;
                    }
                    last_nano = last_nano.max(nano);
                    if let Some(e) = convert(&m) {
                        if e.action == "oom" {
                            *oom.lock()
                                .expect("oom lock")
                                .entry(e.container.clone())
                                .or_default() += 1;
                        }
                        tracing::debug!(container = %e.container, action = %e.action, "container event");
                        agent.containers.push_event(e);
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    });
}
