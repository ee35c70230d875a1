//! `ROOT/sys/class/net` as node_exporter's netclass collector: whether each
//! interface is up, has a carrier, how often the carrier changed (link
//! flaps), its speed and MTU, and `node_network_info` with its address and
//! state. An attribute the driver does not give (reading it fails with
//! EINVAL, as `speed` on a virtual device does) is left out, not zero.

use super::Filters;
use crate::output::Output;
use std::path::Path;

/// (attribute file, metric suffix): plain numbers, hexadecimal allowed.
const NUMBERS: [(&str, &str); 15] = [
    ("addr_assign_type", "address_assign_type"),
    ("carrier", "carrier"),
    ("carrier_changes", "carrier_changes_total"),
    ("carrier_up_count", "carrier_up_changes_total"),
    ("carrier_down_count", "carrier_down_changes_total"),
    ("dev_id", "device_id"),
    ("dormant", "dormant"),
    ("flags", "flags"),
    ("ifindex", "iface_id"),
    ("iflink", "iface_link"),
    ("link_mode", "iface_link_mode"),
    ("mtu", "mtu_bytes"),
    ("name_assign_type", "name_assign_type"),
    ("netdev_group", "net_dev_group"),
    ("tx_queue_len", "transmit_queue_length"),
];

fn attr(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_string())
}

fn number(text: &str) -> Option<f64> {
    match text.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok().map(|n| n as f64),
        None => text.parse::<i64>().ok().map(|n| n as f64),
    }
}

/// Absent (no series, no error) without a sysfs.
pub fn collect(class_net: &Path, filters: &Filters, out: &mut Output) {
    let Ok(entries) = std::fs::read_dir(class_net) else {
        return;
    };
    let mut devices: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|d| filters.keeps_netdev(d))
        .collect();
    devices.sort();
    for device in devices {
        let dir = class_net.join(&device);
        let l = [("device", device.as_str())];
        let operstate = attr(&dir, "operstate").unwrap_or_default();
        out.push(
            "node_network_up",
            &l,
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        let text = |name: &str| attr(&dir, name).unwrap_or_default();
        let (address, broadcast, duplex, ifalias) = (
            text("address"),
            text("broadcast"),
            text("duplex"),
            text("ifalias"),
        );
        out.push(
            "node_network_info",
            &[
                ("address", &address),
                ("broadcast", &broadcast),
                ("device", &device),
                ("duplex", &duplex),
                ("ifalias", &ifalias),
                ("operstate", &operstate),
            ],
            1.0,
        );
        for (file, suffix) in NUMBERS {
            if let Some(v) = attr(&dir, file).as_deref().and_then(number) {
                out.push(&format!("node_network_{suffix}"), &l, v);
            }
        }
        if let Some(v) = attr(&dir, "type").as_deref().and_then(number) {
            out.push("node_network_protocol_type", &l, v);
        }
        // Mbit/s in sysfs (-1 when unknown, kept as node_exporter keeps it).
        if let Some(mbit) = attr(&dir, "speed").as_deref().and_then(number) {
            out.push("node_network_speed_bytes", &l, mbit * 125_000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_become_series_and_missing_ones_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let eth = dir.path().join("eth0");
        std::fs::create_dir_all(&eth).unwrap();
        for (f, v) in [
            ("operstate", "up\n"),
            ("carrier", "1\n"),
            ("carrier_changes", "2\n"),
            ("flags", "0x1003\n"),
            ("mtu", "1400\n"),
            ("speed", "1000\n"),
            ("address", "02:fc:00:00:00:01\n"),
            ("duplex", "full\n"),
        ] {
            std::fs::write(eth.join(f), v).unwrap();
        }
        let mut out = Output::new(0);
        collect(dir.path(), &Filters::default(), &mut out);
        let l = [("device", "eth0")];
        assert_eq!(out.find("node_network_up", &l), Some(1.0));
        assert_eq!(out.find("node_network_flags", &l), Some(4099.0));
        assert_eq!(
            out.find("node_network_speed_bytes", &l),
            Some(125_000_000.0)
        );
        assert_eq!(
            out.find("node_network_carrier_changes_total", &l),
            Some(2.0)
        );
        assert_eq!(out.find("node_network_dormant", &l), None, "not given");
        assert!(out.series().iter().any(|s| s.name == "node_network_info"
            && s.labels["duplex"] == "full"
            && s.labels["operstate"] == "up"));
        let mut none = Output::new(0);
        collect(&dir.path().join("missing"), &Filters::default(), &mut none);
        assert!(none.is_empty());
    }
}
