//! The kernel's network tables as node_exporter's arp, udp_queues and
//! conntrack statistics: ARP entries per device (a full neighbour table
//! drops traffic), bytes queued on UDP sockets (a consumer falling behind)
//! and connection tracking's per-CPU event counts, summed.

use super::{read_file, ProcError};
use crate::output::Output;
use std::collections::BTreeMap;
use std::path::Path;

/// `/proc/net/arp`: one line per neighbour, the device last.
pub fn arp(path: &Path, out: &mut Output) -> Result<(), ProcError> {
    let text = read_file(path)?;
    let mut per_device: BTreeMap<&str, f64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        if let Some(device) = line.split_ascii_whitespace().nth(5) {
            *per_device.entry(device).or_default() += 1.0;
        }
    }
    for (device, n) in per_device {
        out.push("node_arp_entries", &[("device", device)], n);
    }
    Ok(())
}

/// `/proc/net/udp` and `udp6`: the `tx_queue:rx_queue` column (hex bytes)
/// summed per IP version. Without IPv6 only v4 is reported.
pub fn udp_queues(v4: &Path, v6: &Path, out: &mut Output) -> Result<(), ProcError> {
    for (path, ip) in [(v4, "v4"), (v6, "v6")] {
        if ip == "v6" && !path.exists() {
            continue;
        }
        let text = read_file(path)?;
        let (mut tx, mut rx) = (0.0, 0.0);
        for line in text.lines().skip(1) {
            let Some((t, r)) = line
                .split_ascii_whitespace()
                .nth(4)
                .and_then(|q| q.split_once(':'))
            else {
                continue;
            };
            let hex = |v: &str| u64::from_str_radix(v, 16).map(|n| n as f64);
            match (hex(t), hex(r)) {
                (Ok(t), Ok(r)) => {
                    tx += t;
                    rx += r;
                }
                _ => return Err(ProcError::new(path, format!("bad queue column {line:?}"))),
            }
        }
        out.push("node_udp_queues", &[("ip", ip), ("queue", "rx")], rx);
        out.push("node_udp_queues", &[("ip", ip), ("queue", "tx")], tx);
    }
    Ok(())
}

/// The conntrack events node_exporter reports, summed over CPUs.
const CONNTRACK: [&str; 8] = [
    "found",
    "invalid",
    "ignore",
    "insert",
    "insert_failed",
    "drop",
    "early_drop",
    "search_restart",
];

/// `/proc/net/stat/nf_conntrack`: a header naming the columns (they vary
/// by kernel), then one line of hex counters per CPU. Absent (no series,
/// no error) without the conntrack module.
pub fn conntrack_stat(path: &Path, out: &mut Output) -> Result<(), ProcError> {
    if !path.exists() {
        return Ok(());
    }
    let text = read_file(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect();
    let mut sums = [0.0; CONNTRACK.len()];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split_ascii_whitespace().collect();
        for (i, field) in CONNTRACK.iter().enumerate() {
            let Some(at) = header.iter().position(|h| h == field) else {
                continue;
            };
            let v = cols
                .get(at)
                .and_then(|v| u64::from_str_radix(v, 16).ok())
                .ok_or_else(|| ProcError::new(path, format!("bad {field} column")))?;
            sums[i] += v as f64;
        }
    }
    for (i, field) in CONNTRACK.iter().enumerate() {
        if header.contains(field) {
            out.push(&format!("node_nf_conntrack_stat_{field}"), &[], sums[i]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_counted_and_summed() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, t: &str| {
            let p = dir.path().join(n);
            std::fs::write(&p, t).unwrap();
            p
        };
        let a = w(
            "arp",
            "IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1 0x2 aa * eth0\n10.0.0.2 0x1 0x2 bb * eth0\n10.1.0.1 0x1 0x2 cc * br0\n",
        );
        let u = w(
            "udp",
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when\n 0: 0100007F:0035 00000000:0000 07 00000010:00000200 00:00000000\n 1: 0100007F:0036 00000000:0000 07 00000001:00000000 00:00000000\n",
        );
        let c = w(
            "nf_conntrack",
            "entries  clashres found new invalid drop search_restart\n000000b3 00000000 00000002 00000000 00000001 00000000 0000000a\n000000b3 00000000 00000003 00000000 00000000 00000000 00000001\n",
        );
        let mut out = Output::new(0);
        arp(&a, &mut out).unwrap();
        udp_queues(&u, &dir.path().join("udp6"), &mut out).unwrap();
        conntrack_stat(&c, &mut out).unwrap();
        assert_eq!(
            out.find("node_arp_entries", &[("device", "eth0")]),
            Some(2.0)
        );
        assert_eq!(
            out.find("node_arp_entries", &[("device", "br0")]),
            Some(1.0)
        );
        assert_eq!(
            out.find("node_udp_queues", &[("ip", "v4"), ("queue", "tx")]),
            Some(17.0)
        );
        assert_eq!(
            out.find("node_udp_queues", &[("ip", "v4"), ("queue", "rx")]),
            Some(512.0)
        );
        assert_eq!(out.find("node_nf_conntrack_stat_found", &[]), Some(5.0));
        assert_eq!(
            out.find("node_nf_conntrack_stat_search_restart", &[]),
            Some(11.0)
        );
        assert_eq!(
            out.find("node_nf_conntrack_stat_insert", &[]),
            None,
            "not a column here"
        );
        let bad = w("bad", "entries found\n00 zz\n");
        assert!(conntrack_stat(&bad, &mut Output::new(0)).is_err());
    }
}
