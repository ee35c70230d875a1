//! The TYPE and HELP of the container families: cAdvisor's words for the
//! families cAdvisor has (its `metrics/prometheus.go`), dozor's own for
//! the rest, so a dashboard's tooltip reads the same as it does on
//! cAdvisor's data.

use dozor_common::expo::MetricType;

const FAMILIES: [(&str, MetricType, &str); 25] = [
    ("container_cpu_system_seconds_total", MetricType::Counter, "Cumulative system cpu time consumed in seconds."),
    ("container_cpu_usage_seconds_total", MetricType::Counter, "Cumulative cpu time consumed per cpu in seconds."),
    ("container_cpu_user_seconds_total", MetricType::Counter, "Cumulative user cpu time consumed in seconds."),
    ("container_fs_reads_bytes_total", MetricType::Counter, "Cumulative count of bytes read"),
    ("container_fs_writes_bytes_total", MetricType::Counter, "Cumulative count of bytes written"),
    ("container_last_seen", MetricType::Gauge, "Last time a container was seen by the exporter"),
    ("container_memory_cache", MetricType::Gauge, "Number of bytes of page cache memory."),
    ("container_memory_rss", MetricType::Gauge, "Size of RSS in bytes."),
    ("container_memory_usage_bytes", MetricType::Gauge, "Current memory usage in bytes, including all memory regardless of when it was accessed"),
    ("container_memory_working_set_bytes", MetricType::Gauge, "Current working set in bytes."),
    ("container_network_receive_bytes_total", MetricType::Counter, "Cumulative count of bytes received"),
    ("container_network_receive_errors_total", MetricType::Counter, "Cumulative count of errors encountered while receiving"),
    ("container_network_receive_packets_total", MetricType::Counter, "Cumulative count of packets received"),
    ("container_network_transmit_bytes_total", MetricType::Counter, "Cumulative count of bytes transmitted"),
    ("container_network_transmit_errors_total", MetricType::Counter, "Cumulative count of errors encountered while transmitting"),
    ("container_network_transmit_packets_total", MetricType::Counter, "Cumulative count of packets transmitted"),
    ("container_spec_cpu_period", MetricType::Gauge, "CPU period of the container."),
    ("container_spec_cpu_quota", MetricType::Gauge, "CPU quota of the container."),
    ("container_spec_memory_limit_bytes", MetricType::Gauge, "Memory limit for the container."),
    ("container_pids", MetricType::Gauge, "Number of processes (PIDs) in the container, from the Docker Engine's stats."),
    ("dozor_container_state", MetricType::Gauge, "1 for the container's current Docker state (created, running, paused, restarting, removing, exited, dead), 0 for the others."),
    ("dozor_container_health", MetricType::Gauge, "1 for the container's current health-check status (starting, healthy, unhealthy), 0 for the others; absent without a health check."),
    ("dozor_container_exit_code", MetricType::Gauge, "The exit code of the container's last run."),
    ("dozor_container_restarts_total", MetricType::Counter, "Times the Docker Engine restarted the container (its RestartCount), from 0 at creation."),
    ("dozor_container_oom_kills_total", MetricType::Counter, "Out-of-memory kills of the container's processes seen in Docker's events."),
];

/// The type and help of a container family; a name not listed is a gauge
/// (or a counter by its `_total`) with a plain line.
pub fn describe(family: &str) -> (MetricType, &'static str) {
    FAMILIES
        .iter()
        .find(|(name, _, _)| *name == family)
        .map(|(_, kind, help)| (*kind, *help))
        .unwrap_or_else(|| {
            let kind = if family.ends_with("_total") {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            (kind, "Read from the Docker Engine by dozor-collector.")
        })
}

/// Metadata for the families in a Docker pass, for the server's metadata
/// API (the book sends only what it does not hold yet).
pub fn metadata(
    series: &[dozor_common::SeriesBatch],
) -> Vec<dozor_common::protocol::MetricMetadata> {
    let mut names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let (kind, help) = describe(name);
            dozor_common::protocol::MetricMetadata {
                metric: name.to_string(),
                kind: kind.prometheus_name().into(),
                help: help.into(),
                unit: String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_the_collector_writes_is_described() {
        let sources = [include_str!("../docker.rs"), include_str!("stats.rs")];
        let mut written: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.split('"').skip(1).step_by(2))
            .filter(|w| {
                (w.starts_with("container_") || w.starts_with("dozor_container_"))
                    && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .collect();
        written.sort();
        written.dedup();
        assert!(written.len() >= 10, "{written:?}");
        for name in written {
            assert!(
                FAMILIES.iter().any(|(n, _, _)| *n == name),
                "{name} has no TYPE and HELP"
            );
        }
    }
}
