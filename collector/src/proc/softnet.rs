//! `/proc/net/softnet_stat` as node_exporter's softnet collector: per CPU
//! (one line each, hexadecimal columns), packets processed, dropped for a
//! full backlog, and times the budget ran out (`times_squeezed`): the
//! signs of a host that cannot keep up with its network.

use super::{read_file, ProcError};
use crate::output::Output;
use std::path::Path;

pub fn collect(path: &Path, out: &mut Output) -> Result<(), ProcError> {
    let text = read_file(path)?;
    parse(&text, out).map_err(|m| ProcError::new(path, m))
}

fn parse(text: &str, out: &mut Output) -> Result<(), String> {
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let cols: Vec<f64> = line
            .split_ascii_whitespace()
            .map(|c| u64::from_str_radix(c, 16).map(|n| n as f64))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("line {}: not hexadecimal", i + 1))?;
        if cols.len() < 3 {
            return Err(format!("line {}: {} columns", i + 1, cols.len()));
        }
        let cpu = i.to_string();
        let l = [("cpu", cpu.as_str())];
        out.push("node_softnet_processed_total", &l, cols[0]);
        out.push("node_softnet_dropped_total", &l, cols[1]);
        out.push("node_softnet_times_squeezed_total", &l, cols[2]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_hexadecimal_per_cpu() {
        let mut out = Output::new(0);
        parse(
            "0007b5f6 00000000 00000001 00000000\n0009f10b 00000002 00000000 00000000\n",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out.find("node_softnet_processed_total", &[("cpu", "0")]),
            Some(505334.0)
        );
        assert_eq!(
            out.find("node_softnet_dropped_total", &[("cpu", "1")]),
            Some(2.0)
        );
        assert!(parse("zz 1 2\n", &mut out).is_err());
    }
}
