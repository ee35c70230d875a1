//! `/proc/pressure/{cpu,memory,io,irq}` (PSI) as node_exporter's
//! `node_pressure_*_seconds_total`: "some" is waiting, "full" is stalled.

use super::ProcError;
use crate::output::Output;
use procfs_core::parse_pressure_record;
use std::path::Path;

pub fn collect(dir: &Path, out: &mut Output) -> Result<(), ProcError> {
    for resource in ["cpu", "memory", "io", "irq"] {
        let path = dir.join(resource);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // irq only exists on newer kernels with CONFIG_IRQ_TIME_ACCOUNTING.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ProcError::new(&path, e)),
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let rec = parse_pressure_record(line).map_err(|e| ProcError::new(&path, e))?;
            let secs = rec.total as f64 / 1e6;
            let kind = if line.starts_with("some") {
                "waiting"
            } else {
                "stalled"
            };
            // The kernel prints a "full" line for cpu, always zero at the
            // system level; node_exporter exports only cpu "some".
            if resource == "cpu" && kind == "stalled" {
                continue;
            }
            out.push(
                &format!("node_pressure_{resource}_{kind}_seconds_total"),
                &[],
                secs,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::tests_support::fixture;

    #[test]
    fn parses_fixture_pressure_exactly() {
        let mut out = Output::new(0);
        collect(&fixture("pressure"), &mut out).unwrap();
        let v = |n: &str| out.find(n, &[]);
        assert_eq!(
            v("node_pressure_cpu_waiting_seconds_total"),
            Some(33.865186)
        );
        assert_eq!(v("node_pressure_io_waiting_seconds_total"), Some(8.962556));
        assert_eq!(v("node_pressure_io_stalled_seconds_total"), Some(8.626452));
        assert_eq!(v("node_pressure_memory_waiting_seconds_total"), Some(0.0));
        assert_eq!(v("node_pressure_memory_stalled_seconds_total"), Some(0.0));
        assert_eq!(v("node_pressure_cpu_stalled_seconds_total"), None);
        assert_eq!(out.len(), 5);
    }
}
