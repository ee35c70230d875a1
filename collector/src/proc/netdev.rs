//! `/proc/net/dev` as node_exporter's `node_network_{receive,transmit}_*`.
//! Parsed by hand: long interface names run into the first counter
//! ("veth9f3a2b1:1234567890"), which whitespace splitting gets wrong.
//! node_exporter reads the same counters over netlink, which adds
//! `rx_nohandler` (packets no protocol took); sysfs has that one too.

use super::{read_file, Filters, ProcError};
use crate::output::Output;
use std::path::Path;

const RECEIVE: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "frame",
    "compressed",
    "multicast",
];
const TRANSMIT: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "colls",
    "carrier",
    "compressed",
];

/// `path` is `/proc/net/dev`; `class` is `/sys/class/net`, for the
/// counter only netlink and sysfs have.
pub fn collect(
    path: &Path,
    class: &Path,
    filters: &Filters,
    out: &mut Output,
) -> Result<(), ProcError> {
    let text = read_file(path)?;
    let devices = parse(&text, filters, out).map_err(|m| ProcError::new(path, m))?;
    for device in devices {
        // Kernels before 4.6 have no such file, and an interface can go
        // between the two reads: then the series is left out, as
        // node_exporter leaves out what netlink does not give.
        let file = class.join(&device).join("statistics/rx_nohandler");
        if let Some(v) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            out.push(
                "node_network_receive_nohandler_total",
                &[("device", &device)],
                v as f64,
            );
        }
    }
    Ok(())
}

/// The counters of every kept interface; returns their names.
pub fn parse(text: &str, filters: &Filters, out: &mut Output) -> Result<Vec<String>, String> {
    let mut devices = Vec::new();
    // Two header lines, then "name: 16 counters".
    for line in text.lines().skip(2).filter(|l| !l.trim().is_empty()) {
        let (name, rest) = line
            .split_once(':')
            .ok_or_else(|| format!("line without ':': {line:?}"))?;
        let device = name.trim();
        if !filters.keeps_netdev(device) {
            continue;
        }
        let values: Vec<f64> = rest
            .split_ascii_whitespace()
            .map(|v| v.parse::<u64>().map(|n| n as f64))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{device}: bad counter"))?;
        if values.len() != 16 {
            return Err(format!(
                "{device}: expected 16 counters, found {}",
                values.len()
            ));
        }
        let dev = [("device", device)];
        for (i, what) in RECEIVE.iter().enumerate() {
            out.push(
                &format!("node_network_receive_{what}_total"),
                &dev,
                values[i],
            );
        }
        for (i, what) in TRANSMIT.iter().enumerate() {
            out.push(
                &format!("node_network_transmit_{what}_total"),
                &dev,
                values[8 + i],
            );
        }
        devices.push(device.to_string());
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::tests_support::fixture;

    #[test]
    fn parses_fixture_net_dev_exactly() {
        let mut out = Output::new(0);
        // sysfs has rx_nohandler for eth0 only (an interface can go
        // between the two reads).
        let class = tempfile::tempdir().unwrap();
        let stats = class.path().join("eth0/statistics");
        std::fs::create_dir_all(&stats).unwrap();
        std::fs::write(stats.join("rx_nohandler"), "7\n").unwrap();
        collect(
            &fixture("net/dev"),
            class.path(),
            &Filters::default(),
            &mut out,
        )
        .unwrap();
        let v = |n: &str, d: &str| out.find(n, &[("device", d)]);
        assert_eq!(
            v("node_network_receive_bytes_total", "eth0"),
            Some(207_968_691.0)
        );
        assert_eq!(
            v("node_network_receive_packets_total", "eth0"),
            Some(7280.0)
        );
        assert_eq!(
            v("node_network_transmit_bytes_total", "eth0"),
            Some(389_208.0)
        );
        assert_eq!(
            v("node_network_transmit_packets_total", "eth0"),
            Some(4116.0)
        );
        assert_eq!(v("node_network_transmit_drop_total", "docker0"), Some(2.0));
        assert_eq!(v("node_network_receive_bytes_total", "lo"), Some(3193.0));
        // The long name glued to its first counter.
        assert_eq!(
            v("node_network_receive_bytes_total", "veth9f3a2b1"),
            Some(1_234_567_890.0)
        );
        assert_eq!(
            v("node_network_receive_errs_total", "veth9f3a2b1"),
            Some(1.0)
        );
        assert_eq!(
            v("node_network_receive_drop_total", "veth9f3a2b1"),
            Some(2.0)
        );
        assert_eq!(
            v("node_network_transmit_bytes_total", "veth9f3a2b1"),
            Some(987_654_321.0)
        );
        assert_eq!(
            v("node_network_transmit_errs_total", "veth9f3a2b1"),
            Some(3.0)
        );
        assert_eq!(
            v("node_network_transmit_drop_total", "veth9f3a2b1"),
            Some(4.0)
        );
        assert_eq!(v("node_network_receive_nohandler_total", "eth0"), Some(7.0));
        assert_eq!(v("node_network_receive_nohandler_total", "lo"), None);
        assert_eq!(out.len(), 6 * 16 + 1);
    }

    #[test]
    fn rejects_short_lines() {
        let bad = "h1\nh2\n eth0: 1 2 3\n";
        assert!(parse(bad, &Filters::default(), &mut Output::new(0))
            .unwrap_err()
            .contains("expected 16"));
    }
}
