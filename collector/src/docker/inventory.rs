//! A container's facts from `docker inspect`, trimmed to what the server
//! stores and the pages show. Docker writes "never" as year 1, so such
//! times become None.

use bollard::models::ContainerInspectResponse;
use dozor_common::containers::{rfc3339_nanos, ContainerInfo};

fn millis(ts: Option<&str>) -> Option<i64> {
    let n = rfc3339_nanos(ts?)?;
    (n > 0).then_some((n / 1_000_000) as i64)
}

/// Builds the inventory entry; `name` and `image` as the list shows them.
pub fn info(i: &ContainerInspectResponse, name: &str, image: &str) -> ContainerInfo {
    let st = i.state.as_ref();
    let cfg = i.config.as_ref();
    let hc = i.host_config.as_ref();
    let labels: std::collections::BTreeMap<String, String> = cfg
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut command: Vec<String> = Vec::new();
    command.extend(i.path.clone());
    command.extend(i.args.clone().unwrap_or_default());
    let mut ports: Vec<String> = i
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .map(|m| {
            m.iter()
                .flat_map(|(port, binds)| match binds {
                    Some(b) if !b.is_empty() => b
                        .iter()
                        .map(|b| {
                            format!(
                                "{}:{} -> {port}",
                                b.host_ip.as_deref().unwrap_or(""),
                                b.host_port.as_deref().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>(),
                    _ => vec![port.clone()],
                })
                .collect()
        })
        .unwrap_or_default();
    ports.sort();
    let mut networks: Vec<String> = i
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let addresses = i
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|m| {
            m.iter()
                .filter_map(|(net, e)| {
                    let ip = e
                        .ip_address
                        .as_deref()
                        .filter(|a| !a.is_empty())
                        .or(e.global_ipv6_address.as_deref().filter(|a| !a.is_empty()))?;
                    Some((net.clone(), ip.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts = i
        .mounts
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|m| {
                    format!(
                        "{} -> {}{}",
                        m.source.as_deref().or(m.name.as_deref()).unwrap_or("?"),
                        m.destination.as_deref().unwrap_or("?"),
                        if m.rw == Some(false) { " (ro)" } else { "" }
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let cpu_limit = hc.and_then(|h| match (h.nano_cpus, h.cpu_quota, h.cpu_period) {
        (Some(n), _, _) if n > 0 => Some(n as f64 / 1e9),
        (_, Some(q), p) if q > 0 => Some(q as f64 / p.filter(|p| *p > 0).unwrap_or(100_000) as f64),
        _ => None,
    });
    ContainerInfo {
        id: i.id.clone().unwrap_or_default(),
        name: name.to_string(),
        image: image.to_string(),
        command: command.join(" "),
        state: st
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        health: st
            .and_then(|s| s.health.as_ref())
            .and_then(|h| h.status)
            .map(|h| h.to_string())
            .filter(|h| !h.is_empty() && h != "none"),
        exit_code: st.and_then(|s| s.exit_code),
        oom_killed: st.and_then(|s| s.oom_killed).unwrap_or(false),
        restart_count: i.restart_count.unwrap_or(0),
        created_ms: millis(i.created.as_deref()).unwrap_or(0),
        started_ms: millis(st.and_then(|s| s.started_at.as_deref())),
        finished_ms: millis(st.and_then(|s| s.finished_at.as_deref())),
        compose_project: labels.get("com.docker.compose.project").cloned(),
        compose_service: labels.get("com.docker.compose.service").cloned(),
        labels,
        ports,
        networks,
        addresses,
        mounts,
        memory_limit: hc.and_then(|h| h.memory).filter(|m| *m > 0),
        cpu_limit,
        // Filled by the Docker pass, which knows the actions policy.
        actions_refused: None,
    }
}
