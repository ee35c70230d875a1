//! The collector's own process, as every Prometheus client library
//! exposes it (`process_*`), for its `/metrics`: CPU time, memory, file
//! descriptors and start time, read from `/proc/self` (the collector's own
//! namespace, not ROOT) when `/metrics` is asked.

use crate::exposition::{add, Families};
use dozor_common::expo::MetricType;
use dozor_common::Labels;

/// (name, type, help, value) of what could be read; a field that cannot
/// is left out rather than reported as 0.
pub fn read() -> Vec<(&'static str, MetricType, &'static str, f64)> {
    let mut out = Vec::new();
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which may itself hold spaces and ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_ascii_whitespace().collect())
        .unwrap_or_default();
    // man 5 proc numbers fields from 1; `state` (3) is fields[0].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        out.push((
            "process_cpu_seconds_total",
            MetricType::Counter,
            "Total user and system CPU time spent in seconds.",
            (utime + stime) / ticks,
        ));
    }
    if let Some(v) = field(23) {
        out.push((
            "process_virtual_memory_bytes",
            MetricType::Gauge,
            "Virtual memory size in bytes.",
            v,
        ));
    }
    if let Some(pages) = field(24) {
        out.push((
            "process_resident_memory_bytes",
            MetricType::Gauge,
            "Resident memory size in bytes.",
            pages * rustix::param::page_size() as f64,
        ));
    }
    let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    if let (Some(btime), Some(start)) = (btime, field(22)) {
        out.push((
            "process_start_time_seconds",
            MetricType::Gauge,
            "Start time of the process since unix epoch in seconds.",
            btime + start / ticks,
        ));
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push((
            "process_open_fds",
            MetricType::Gauge,
            "Number of open file descriptors.",
            fds.count() as f64,
        ));
    }
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l["Max open files".len()..].split_ascii_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        });
    if let Some(v) = max_fds {
        out.push((
            "process_max_fds",
            MetricType::Gauge,
            "Maximum number of open file descriptors.",
            v,
        ));
    }
    out
}

/// The same, as families for the exposition.
pub fn families() -> Families {
    let mut f = Families::new();
    for (name, kind, help, v) in read() {
        add(&mut f, name, kind, help, name, Labels::new(), v);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_described() {
        let got: std::collections::HashMap<_, _> =
            read().into_iter().map(|(n, _, _, v)| (n, v)).collect();
        assert!(got["process_resident_memory_bytes"] > 1e6);
        assert!(got["process_open_fds"] >= 3.0);
        assert!(got["process_max_fds"] >= got["process_open_fds"]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = got["process_start_time_seconds"];
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
        assert!(got.contains_key("process_cpu_seconds_total"));
    }
}
