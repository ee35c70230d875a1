//! Docker label discovery: running containers labelled `dozor.scrape=true`
//! become targets, scraped at the container's own address on its network.
//!
//! | label | default |
//! |---|---|
//! | `dozor.scrape.port` | the container's only exposed port |
//! | `dozor.scrape.path` | `/metrics` |
//! | `dozor.scrape.interval` | the collector's `--interval` |
//! | `dozor.scrape.scheme` | `http` |
//! | `dozor.scrape.format` | `prometheus` (or `json`) |
//! | `dozor.scrape.job` | the compose service, else the container name |
//! | `dozor.scrape.network` | the first network with an address |
//!
//! Every series also gets `container` and, under Compose,
//! `compose_service`. The Docker socket is only read here: containers are
//! listed, never changed. `DOCKER_HOST` is honoured.

use super::target::{Target, TargetSpec};
use crate::docker::container_name;
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;
use std::collections::HashMap;
use std::time::Duration;

pub const SCRAPE: &str = "dozor.scrape";

pub struct DockerDiscovery {
    docker: Docker,
}

impl DockerDiscovery {
    /// Connects (honouring DOCKER_HOST) and agrees on an API version.
    pub async fn connect() -> Result<Self, String> {
        let docker = Docker::connect_with_defaults().map_err(|e| e.to_string())?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self { docker })
    }

    /// The labelled running containers as targets; one that is labelled
    /// wrongly is logged and skipped, not fatal.
    pub async fn targets(&self, default_interval: Duration) -> Result<Vec<Target>, String> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{SCRAPE}=true")])]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for c in &list {
            match target_for(c, default_interval) {
                Ok(t) => out.push(t),
                Err(e) => {
                    let name = container_name(c);
                    tracing::warn!(container = %name, error = %e, "container labelled for scraping skipped");
                }
            }
        }
        Ok(out)
    }
}

/// One container's target, from its labels and network settings.
pub fn target_for(c: &ContainerSummary, default_interval: Duration) -> Result<Target, String> {
    let empty = HashMap::new();
    let labels = c.labels.as_ref().unwrap_or(&empty);
    let get = |k: &str| {
        labels
            .get(&format!("{SCRAPE}.{k}"))
            .map(|v| v.trim().to_string())
    };
    let name = container_name(c);
    let networks = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .cloned()
        .unwrap_or_default();
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort();
    let ip = match get("network") {
        Some(net) => networks
            .get(&net)
            .and_then(|e| e.ip_address.clone())
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| format!("no address on network {net:?}"))?,
        None => names
            .iter()
            .find_map(|n| networks[*n].ip_address.clone().filter(|ip| !ip.is_empty()))
            .ok_or("no network address (host networking is not supported; publish the port and use a static target)")?,
    };
    let port = match get("port") {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("{SCRAPE}.port {p:?} is not a port"))?,
        None => {
            let mut ports: Vec<u16> = c.ports.iter().flatten().map(|p| p.private_port).collect();
            ports.sort();
            ports.dedup();
            match ports.as_slice() {
                [one] => *one,
                _ => {
                    return Err(format!(
                        "set {SCRAPE}.port: the container exposes {} ports",
                        ports.len()
                    ))
                }
            }
        }
    };
    let scheme = get("scheme").unwrap_or_else(|| "http".into());
    if scheme != "http" && scheme != "https" {
        return Err(format!("{SCRAPE}.scheme {scheme:?} is not http or https"));
    }
    let path = get("path").unwrap_or_else(|| "/metrics".into());
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let service = labels.get("com.docker.compose.service").cloned();
    let mut static_labels =
        std::collections::BTreeMap::from([("container".to_string(), name.clone())]);
    if let Some(s) = &service {
        static_labels.insert("compose_service".into(), s.clone());
    }
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip
    };
    TargetSpec {
        job: get("job").or(service).unwrap_or_else(|| name.clone()),
        url: format!("{scheme}://{host}:{port}{path}"),
        interval: get("interval"),
        format: get("format"),
        labels: static_labels,
        ..Default::default()
    }
    .compile(default_interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerSummaryNetworkSettings, EndpointSettings, PortSummary};

    fn container(labels: &[(&str, &str)], ports: &[u16]) -> ContainerSummary {
        ContainerSummary {
            names: Some(vec!["/web-1".into()]),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ports: Some(
                ports
                    .iter()
                    .map(|p| PortSummary {
                        private_port: *p,
                        ..Default::default()
                    })
                    .collect(),
            ),
            network_settings: Some(ContainerSummaryNetworkSettings {
                networks: Some(HashMap::from([
                    (
                        "b_net".to_string(),
                        EndpointSettings {
                            ip_address: Some("172.20.0.5".into()),
                            ..Default::default()
                        },
                    ),
                    (
                        "a_net".to_string(),
                        EndpointSettings {
                            ip_address: Some("172.19.0.7".into()),
                            ..Default::default()
                        },
                    ),
                ])),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn labels_make_targets() {
        let d = Duration::from_secs(10);
        let t = target_for(&container(&[("dozor.scrape", "true")], &[9000]), d).unwrap();
        assert_eq!(
            t.url, "http://172.19.0.7:9000/metrics",
            "first network by name, the only port"
        );
        assert_eq!(
            (t.job.as_str(), t.labels["container"].as_str()),
            ("web-1", "web-1")
        );
        let t = target_for(
            &container(
                &[
                    ("dozor.scrape.port", "8080"),
                    ("dozor.scrape.path", "stats"),
                    ("dozor.scrape.network", "b_net"),
                    ("dozor.scrape.format", "json"),
                    ("dozor.scrape.interval", "30s"),
                    ("com.docker.compose.service", "api"),
                ],
                &[8080, 9090],
            ),
            d,
        )
        .unwrap();
        assert_eq!(t.url, "http://172.20.0.5:8080/stats");
        assert_eq!(
            (t.job.as_str(), t.labels["compose_service"].as_str()),
            ("api", "api")
        );
        assert_eq!(t.interval, Duration::from_secs(30));
        let e = target_for(&container(&[], &[1, 2]), d).unwrap_err();
        assert!(e.contains("exposes 2 ports"), "{e}");
        let e = target_for(&container(&[("dozor.scrape.port", "http")], &[]), d).unwrap_err();
        assert!(e.contains("is not a port"), "{e}");
    }
}
