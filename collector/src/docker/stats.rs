//! One container's stats (Docker's one-shot `stats`) as cAdvisor-named
//! series. Pure: the Engine call is in `docker.rs`. cgroup v1 and v2 name
//! their memory counters differently; both are read.

use crate::output::Output;
use bollard::models::ContainerStatsResponse;

/// The labels every container series carries.
pub struct Who<'a> {
    pub container: &'a str,
    pub image: &'a str,
    pub compose_service: Option<&'a str>,
    /// Its `dozor.service` label, so a service's containers can be read
    /// together (autoscaling, the service page).
    pub service: Option<&'a str>,
}

impl Who<'_> {
    pub fn labels<'b>(&'b self, extra: &[(&'b str, &'b str)]) -> Vec<(&'b str, &'b str)> {
        let mut l = vec![("container", self.container), ("image", self.image)];
        if let Some(s) = self.compose_service {
            l.push(("compose_service", s));
        }
        if let Some(s) = self.service {
            l.push(("service", s));
        }
        l.extend_from_slice(extra);
        l
    }
}

const NS: f64 = 1e9;

/// Appends the container's series to `out`.
pub fn emit(out: &mut Output, who: &Who<'_>, s: &ContainerStatsResponse) {
    let l = who.labels(&[]);
    if let Some(cpu) = s.cpu_stats.as_ref().and_then(|c| c.cpu_usage.as_ref()) {
        if let Some(t) = cpu.total_usage {
            out.push("container_cpu_usage_seconds_total", &l, t as f64 / NS);
        }
        if let Some(u) = cpu.usage_in_usermode {
            out.push("container_cpu_user_seconds_total", &l, u as f64 / NS);
        }
        if let Some(k) = cpu.usage_in_kernelmode {
            out.push("container_cpu_system_seconds_total", &l, k as f64 / NS);
        }
    }
    if let Some(m) = &s.memory_stats {
        let stat = |keys: &[&str]| {
            m.stats
                .as_ref()
                .and_then(|st| keys.iter().find_map(|k| st.get(*k).copied()))
        };
        if let Some(usage) = m.usage {
            out.push("container_memory_usage_bytes", &l, usage as f64);
            // cAdvisor's working set: usage minus inactive page cache.
            let inactive = stat(&["inactive_file", "total_inactive_file"]).unwrap_or(0);
            out.push(
                "container_memory_working_set_bytes",
                &l,
                usage.saturating_sub(inactive) as f64,
            );
        }
        if let Some(rss) = stat(&["anon", "rss", "total_rss"]) {
            out.push("container_memory_rss", &l, rss as f64);
        }
        if let Some(cache) = stat(&["file", "cache", "total_cache"]) {
            out.push("container_memory_cache", &l, cache as f64);
        }
    }
    let mut ifaces: Vec<_> = s.networks.iter().flatten().collect();
    ifaces.sort_by_key(|(name, _)| name.as_str());
    for (iface, n) in ifaces {
        let l = who.labels(&[("interface", iface.as_str())]);
        let pairs = [
            ("container_network_receive_bytes_total", n.rx_bytes),
            ("container_network_receive_packets_total", n.rx_packets),
            ("container_network_receive_errors_total", n.rx_errors),
            ("container_network_transmit_bytes_total", n.tx_bytes),
            ("container_network_transmit_packets_total", n.tx_packets),
            ("container_network_transmit_errors_total", n.tx_errors),
        ];
        for (name, v) in pairs {
            if let Some(v) = v {
                out.push(name, &l, v as f64);
            }
        }
    }
    if let Some(entries) = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
    {
        let sum = |op: &str| -> u64 {
            entries
                .iter()
                .filter(|e| e.op.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
                .filter_map(|e| e.value)
                .sum()
        };
        out.push("container_fs_reads_bytes_total", &l, sum("read") as f64);
        out.push("container_fs_writes_bytes_total", &l, sum("write") as f64);
    }
    if let Some(p) = s.pids_stats.as_ref().and_then(|p| p.current) {
        out.push("container_pids", &l, p as f64);
    }
    out.push("container_last_seen", &l, out.ts_ms() as f64 / 1000.0);
}
