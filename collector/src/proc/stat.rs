//! `/proc/stat` and `/proc/loadavg`: CPU time, context switches, forks,
//! boot time, runnable/blocked processes and load averages.

use super::{read_file, ProcError};
use crate::output::Output;
use procfs_core::{FromRead, LoadAverage};
use std::path::Path;

// The column order of a `cpuN` line, as node_exporter names the modes.
// guest and guest_nice are already counted in user and nice, so like
// node_exporter they go to a separate metric instead of another mode.
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

pub fn collect(path: &Path, ticks_per_second: u64, out: &mut Output) -> Result<(), ProcError> {
    let text = read_file(path)?;
    parse(&text, ticks_per_second, out).map_err(|m| ProcError::new(path, m))
}

pub fn parse(text: &str, tps: u64, out: &mut Output) -> Result<(), String> {
    let tps = tps as f64;
    let mut saw_cpu = false;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        if let Some(id) = key.strip_prefix("cpu") {
            // The aggregate "cpu" line is derivable with sum(); node_exporter
            // skips it too. CPU ids come from the line because offline CPUs
            // are missing from the file, so a position is not an id.
            if id.is_empty() {
                continue;
            }
            if id.parse::<u32>().is_err() {
                return Err(format!("unexpected line {key:?}"));
            }
            let values: Vec<u64> = fields
                .map(|f| {
                    f.parse::<u64>()
                        .map_err(|_| format!("{key}: bad number {f:?}"))
                })
                .collect::<Result<_, _>>()?;
            if values.len() < 4 {
                return Err(format!("{key}: expected at least 4 columns"));
            }
            for (mode, v) in MODES.iter().zip(&values) {
                out.push(
                    "node_cpu_seconds_total",
                    &[("cpu", id), ("mode", mode)],
                    *v as f64 / tps,
                );
            }
            for (i, mode) in [(8, "user"), (9, "nice")] {
                if let Some(v) = values.get(i) {
                    out.push(
                        "node_cpu_guest_seconds_total",
                        &[("cpu", id), ("mode", mode)],
                        *v as f64 / tps,
                    );
                }
            }
            saw_cpu = true;
            continue;
        }
        let first = || -> Result<f64, String> {
            line.split_ascii_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|v| v as f64)
                .ok_or_else(|| format!("{key}: missing or bad value"))
        };
        match key {
            "ctxt" => out.push("node_context_switches_total", &[], first()?),
            "btime" => out.push("node_boot_time_seconds", &[], first()?),
            "processes" => out.push("node_forks_total", &[], first()?),
            "procs_running" => out.push("node_procs_running", &[], first()?),
            "procs_blocked" => out.push("node_procs_blocked", &[], first()?),
            "intr" => out.push("node_intr_total", &[], first()?),
            _ => {}
        }
    }
    if !saw_cpu {
        return Err("no cpuN lines".into());
    }
    // node_exporter's time collector; uptime is node_time_seconds -
    // node_boot_time_seconds, as in its stock dashboards.
    out.push("node_time_seconds", &[], out.ts_ms() as f64 / 1000.0);
    Ok(())
}

pub fn collect_loadavg(path: &Path, out: &mut Output) -> Result<(), ProcError> {
    let la = LoadAverage::from_file(path).map_err(|e| ProcError::new(path, e))?;
    // procfs parses into f32; go through the decimal text so 0.72 stays 0.72
    // rather than 0.7200000286102295.
    let exact = |v: f32| format!("{v}").parse::<f64>().unwrap_or(v as f64);
    out.push("node_load1", &[], exact(la.one));
    out.push("node_load5", &[], exact(la.five));
    out.push("node_load15", &[], exact(la.fifteen));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::tests_support::fixture;

    #[test]
    fn parses_fixture_stat_exactly() {
        let mut out = Output::new(1_700_000_000_000);
        collect(&fixture("stat"), 100, &mut out).unwrap();
        let cpu = |c: &str, m: &str| out.find("node_cpu_seconds_total", &[("cpu", c), ("mode", m)]);
        assert_eq!(cpu("0", "user"), Some(123.83));
        assert_eq!(cpu("0", "system"), Some(37.47));
        assert_eq!(cpu("0", "idle"), Some(9366.58));
        assert_eq!(cpu("0", "iowait"), Some(0.9));
        assert_eq!(cpu("0", "softirq"), Some(0.21));
        assert_eq!(cpu("0", "steal"), Some(1.91));
        assert_eq!(cpu("1", "user"), Some(133.91));
        assert_eq!(cpu("1", "iowait"), Some(9.31));
        assert_eq!(cpu("2", "user"), None);
        assert_eq!(
            out.find(
                "node_cpu_guest_seconds_total",
                &[("cpu", "1"), ("mode", "nice")]
            ),
            Some(0.0)
        );
        assert_eq!(
            out.find("node_context_switches_total", &[]),
            Some(2_476_342.0)
        );
        assert_eq!(
            out.find("node_boot_time_seconds", &[]),
            Some(1_795_328_366.0)
        );
        assert_eq!(out.find("node_forks_total", &[]), Some(7061.0));
        assert_eq!(out.find("node_procs_running", &[]), Some(3.0));
        assert_eq!(out.find("node_procs_blocked", &[]), Some(0.0));
        assert_eq!(out.find("node_intr_total", &[]), Some(1_127_814.0));
        assert_eq!(out.find("node_time_seconds", &[]), Some(1_700_000_000.0));
        // 2 CPUs x (8 modes + 2 guest modes) + 6 kernel counters + time.
        assert_eq!(out.len(), 2 * 10 + 6 + 1);
    }

    #[test]
    fn offline_cpus_keep_their_ids_and_garbage_is_an_error() {
        let mut out = Output::new(0);
        parse("cpu  1 2 3 4\ncpu3 100 0 0 0\n", 100, &mut out).unwrap();
        assert_eq!(
            out.find("node_cpu_seconds_total", &[("cpu", "3"), ("mode", "user")]),
            Some(1.0)
        );
        assert!(parse("cpu0 1 x 3 4\n", 100, &mut Output::new(0)).is_err());
        assert!(parse("ctxt 5\n", 100, &mut Output::new(0)).is_err());
        assert!(parse("cpu0 1 2\n", 100, &mut Output::new(0)).is_err());
    }

    #[test]
    fn parses_fixture_loadavg() {
        let mut out = Output::new(0);
        collect_loadavg(&fixture("loadavg"), &mut out).unwrap();
        assert_eq!(out.find("node_load1", &[]), Some(1.91));
        assert_eq!(out.find("node_load5", &[]), Some(0.77));
        assert_eq!(out.find("node_load15", &[]), Some(0.29));
    }
}
