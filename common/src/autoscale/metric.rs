//! What a policy watches, and the PromQL that reads it for a service.

use serde::{Deserialize, Serialize};

/// What a policy watches, one number per service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// CPU, % of each replica's limit (of one core when it has none),
    /// averaged over the running replicas.
    #[default]
    Cpu,
    /// Memory, % of each container's limit, averaged.
    Memory,
    /// Requests per second per replica, from the access log.
    Rps,
    /// The service's p95 latency, seconds.
    P95,
    /// Any PromQL returning one number for the service.
    Promql,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Rps => "rps",
            Self::P95 => "p95",
            Self::Promql => "promql",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cpu" => Self::Cpu,
            "memory" => Self::Memory,
            "rps" => Self::Rps,
            "p95" => Self::P95,
            "promql" => Self::Promql,
            _ => return None,
        })
    }

    /// Per-replica averages fall as replicas are added, so a scale-down
    /// can be projected; latency and free expressions cannot.
    pub fn per_replica(self) -> bool {
        matches!(self, Self::Cpu | Self::Memory | Self::Rps)
    }

    /// The PromQL that gives the number for `service` on `host`. Names
    /// are slugs (checked before a policy is stored), so nothing here
    /// needs escaping; a user's own expression gets `$service` and
    /// `$host` replaced.
    pub fn query(self, service: &str, host: &str, own: Option<&str>, window_s: u32) -> String {
        let sel = format!(r#"{{host="{host}",service="{service}"}}"#);
        let w = format!("{window_s}s");
        match self {
            // Each replica's share of its own limit, one core when it has
            // none, averaged.
            Self::Cpu => format!(
                "avg(rate(container_cpu_usage_seconds_total{sel}[{w}]) / on (container) \
                 ((container_spec_cpu_quota{sel} / container_spec_cpu_period{sel}) \
                 or on (container) (count by (container) (container_cpu_usage_seconds_total{sel}) * 0 + 1))) * 100"
            ),
            Self::Memory => format!(
                "avg(container_memory_working_set_bytes{sel} / (container_spec_memory_limit_bytes{sel} > 0)) * 100"
            ),
            Self::Rps => format!(
                "sum(rate(dozor_http_requests_total{sel}[{w}])) / count(dozor_container_state{{host=\"{host}\",service=\"{service}\",state=\"running\"}} == 1)"
            ),
            Self::P95 => format!(
                "histogram_quantile(0.95, sum by (le) (rate(dozor_http_request_duration_seconds_bucket{sel}[{w}])))"
            ),
            Self::Promql => own
                .unwrap_or("")
                .replace("$service", service)
                .replace("$host", host),
        }
    }
}
