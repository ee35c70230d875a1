//! Who serves a service: its static addresses, or the containers on its
//! host labelled `dozor.service=<name>` that are running (and healthy,
//! when they have a health check), at the service's port or their own
//! `dozor.port`. The agent decides from Docker; the server, from the
//! host's last inventory, shows the same decision on the service page.

use super::{Service, PORT_LABEL, SERVICE_LABEL};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A container as membership needs to see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Docker's state: running, exited, …
    pub state: String,
    /// starting, healthy, unhealthy; None without a health check.
    pub health: Option<String>,
    /// The container's address on its network, as nginx reaches it.
    pub ip: Option<String>,
}

impl Candidate {
    /// From the inventory. `reachable`: the Docker networks nginx shares
    /// with the containers (nginx in a container); empty when nginx runs
    /// on the host, which reaches every bridge network (the first address
    /// by network name is used).
    pub fn from_info(c: &crate::containers::ContainerInfo, reachable: &[String]) -> Self {
        let ip = if reachable.is_empty() {
            c.addresses.values().next().cloned()
        } else {
            reachable.iter().find_map(|n| c.addresses.get(n).cloned())
        };
        Self {
            name: c.name.clone(),
            labels: c.labels.clone(),
            state: c.state.clone(),
            health: c.health.clone(),
            ip,
        }
    }
}

/// One upstream member and whether it takes traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The container's name; None for a static address.
    pub container: Option<String>,
    /// `ip:port`, or empty when there is none.
    pub address: String,
    /// Why it is out; None while it is in the upstream.
    pub out: Option<String>,
}

impl Member {
    pub fn live(&self) -> bool {
        self.out.is_none()
    }
}

/// The members of `s`, in a stable order (by container, then address).
pub fn members(s: &Service, containers: &[Candidate]) -> Vec<Member> {
    if !s.static_upstreams.is_empty() {
        let mut m: Vec<Member> = s
            .static_upstreams
            .iter()
            .map(|a| Member {
                container: None,
                address: a.clone(),
                out: None,
            })
            .collect();
        m.sort_by(|a, b| a.address.cmp(&b.address));
        m.dedup();
        return m;
    }
    let mut out: Vec<Member> = containers
        .iter()
        .filter(|c| c.labels.get(SERVICE_LABEL).map(String::as_str) == Some(s.name.as_str()))
        .map(|c| {
            let port = c
                .labels
                .get(PORT_LABEL)
                .and_then(|p| p.parse::<u16>().ok().filter(|p| *p > 0))
                .or(s.port);
            let ip =
                c.ip.as_deref()
                    .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
            let address = match (ip, port) {
                (Some(ip), Some(p)) if ip.contains(':') => format!("[{ip}]:{p}"),
                (Some(ip), Some(p)) => format!("{ip}:{p}"),
                _ => String::new(),
            };
            let why = if c.state != "running" {
                Some(format!("not running ({})", c.state))
            } else if matches!(c.health.as_deref(), Some(h) if h != "healthy") {
                Some(format!(
                    "health check: {}",
                    c.health.as_deref().unwrap_or("")
                ))
            } else if port.is_none() {
                Some("no port: set one on the service or a dozor.port label".into())
            } else if ip.is_none() {
                Some("no address on a Docker network".into())
            } else {
                None
            };
            Member {
                container: Some(c.name.clone()),
                address,
                out: why,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.container, &a.address).cmp(&(&b.container, &b.address)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, service: &str, state: &str, health: Option<&str>, ip: &str) -> Candidate {
        Candidate {
            name: name.into(),
            labels: [(SERVICE_LABEL.to_string(), service.to_string())].into(),
            state: state.into(),
            health: health.map(str::to_string),
            ip: Some(ip.into()),
        }
    }

    #[test]
    fn running_healthy_labelled_containers_are_members() {
        let s = Service {
            name: "app".into(),
            port: Some(8080),
            ..Default::default()
        };
        let mut own_port = c("app-3", "app", "running", None, "172.17.0.5");
        own_port.labels.insert(PORT_LABEL.into(), "9000".into());
        let list = vec![
            c("app-1", "app", "running", None, "172.17.0.2"),
            c("app-2", "app", "running", Some("starting"), "172.17.0.3"),
            c("other", "db", "running", None, "172.17.0.4"),
            c("app-0", "app", "exited", None, "172.17.0.6"),
            own_port,
        ];
        let m = members(&s, &list);
        let live: Vec<&str> = m
            .iter()
            .filter(|m| m.live())
            .map(|m| m.address.as_str())
            .collect();
        assert_eq!(live, ["172.17.0.2:8080", "172.17.0.5:9000"]);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].out.as_deref().unwrap().contains("not running"));
        assert!(m[2].out.as_deref().unwrap().contains("starting"));
    }

    #[test]
    fn static_addresses_replace_containers() {
        let s = Service {
            name: "app".into(),
            static_upstreams: vec!["10.0.0.2:80".into(), "10.0.0.1:80".into()],
            ..Default::default()
        };
        let m = members(&s, &[c("app-1", "app", "running", None, "172.17.0.2")]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].address, "10.0.0.1:80");
        assert!(m.iter().all(|m| m.container.is_none() && m.live()));
    }

    #[test]
    fn a_bad_address_or_missing_port_keeps_a_container_out() {
        let s = Service {
            name: "app".into(),
            ..Default::default()
        };
        let mut weird = c("app-1", "app", "running", None, "1.2.3.4; evil");
        weird.labels.insert(PORT_LABEL.into(), "80".into());
        let m = members(
            &s,
            &[weird, c("app-2", "app", "running", None, "172.17.0.3")],
        );
        assert!(m.iter().all(|m| !m.live()), "{m:?}");
        assert!(m[0].address.is_empty());
    }
}
