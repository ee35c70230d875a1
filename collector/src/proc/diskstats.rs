//! `/proc/diskstats` as node_exporter's `node_disk_*`. Partitions and
//! loop/ram devices are skipped (`filters.rs`), so disk totals are not
//! double-counted.

use super::{Filters, ProcError};
use crate::output::Output;
use procfs_core::{DiskStats, FromRead};
use std::path::Path;

/// `node_disk_info`: the disk's numbers and what udev recorded of it.
fn info(udev: &Path, major: i32, minor: i32, device: &str, out: &mut Output) {
    let data = std::fs::read_to_string(udev.join(format!("b{major}:{minor}"))).unwrap_or_default();
    let property = |key: &str| {
        data.lines()
            .find_map(|l| l.strip_prefix("E:")?.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
            .to_string()
    };
    let (major, minor) = (major.to_string(), minor.to_string());
    let (model, path, revision) = (
        property("ID_MODEL"),
        property("ID_PATH"),
        property("ID_REVISION"),
    );
    let (serial, wwn) = (property("ID_SERIAL_SHORT"), property("ID_WWN"));
    out.push(
        "node_disk_info",
        &[
            ("device", device),
            ("major", &major),
            ("minor", &minor),
            ("model", &model),
            ("path", &path),
            ("revision", &revision),
            ("serial", &serial),
            ("wwn", &wwn),
        ],
        1.0,
    );
}

/// Bytes per sector in /proc/diskstats, fixed by the kernel ABI regardless
/// of the device's real sector size.
const SECTOR_BYTES: f64 = 512.0;

/// `udev` is udev's database directory (`ROOT/run/udev/data`), where a
/// disk's model, serial and path come from for `node_disk_info`; without
/// it those labels are empty, as node_exporter leaves them.
pub fn collect(
    path: &Path,
    udev: &Path,
    filters: &Filters,
    out: &mut Output,
) -> Result<(), ProcError> {
    let stats = DiskStats::from_file(path).map_err(|e| ProcError::new(path, e))?;
    for d in stats.0.iter().filter(|d| filters.keeps_disk(&d.name)) {
        info(udev, d.major, d.minor, &d.name, out);
        let dev = [("device", d.name.as_str())];
        let ms = |v: u64| v as f64 / 1000.0;
        out.push("node_disk_reads_completed_total", &dev, d.reads as f64);
        out.push("node_disk_reads_merged_total", &dev, d.merged as f64);
        out.push(
            "node_disk_read_bytes_total",
            &dev,
            d.sectors_read as f64 * SECTOR_BYTES,
        );
        out.push(
            "node_disk_read_time_seconds_total",
            &dev,
            ms(d.time_reading),
        );
        out.push("node_disk_writes_completed_total", &dev, d.writes as f64);
        out.push(
            "node_disk_writes_merged_total",
            &dev,
            d.writes_merged as f64,
        );
        out.push(
            "node_disk_written_bytes_total",
            &dev,
            d.sectors_written as f64 * SECTOR_BYTES,
        );
        out.push(
            "node_disk_write_time_seconds_total",
            &dev,
            ms(d.time_writing),
        );
        out.push("node_disk_io_now", &dev, d.in_progress as f64);
        out.push(
            "node_disk_io_time_seconds_total",
            &dev,
            ms(d.time_in_progress),
        );
        out.push(
            "node_disk_io_time_weighted_seconds_total",
            &dev,
            ms(d.weighted_time_in_progress),
        );
        if let (Some(n), Some(m), Some(s), Some(t)) = (
            d.discards,
            d.discards_merged,
            d.sectors_discarded,
            d.time_discarding,
        ) {
            out.push("node_disk_discards_completed_total", &dev, n as f64);
            out.push("node_disk_discards_merged_total", &dev, m as f64);
            out.push("node_disk_discarded_sectors_total", &dev, s as f64);
            out.push("node_disk_discard_time_seconds_total", &dev, ms(t));
        }
        if let (Some(n), Some(t)) = (d.flushes, d.time_flushing) {
            out.push("node_disk_flush_requests_total", &dev, n as f64);
            out.push("node_disk_flush_requests_time_seconds_total", &dev, ms(t));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::tests_support::fixture;

    #[test]
    fn parses_fixture_diskstats_exactly() {
        let mut out = Output::new(0);
        collect(
            &fixture("diskstats"),
            &fixture("no-udev"),
            &Filters::default(),
            &mut out,
        )
        .unwrap();
        let v = |n: &str| out.find(n, &[("device", "vda")]);
        assert_eq!(v("node_disk_reads_completed_total"), Some(56_363.0));
        assert_eq!(v("node_disk_reads_merged_total"), Some(9_704.0));
        assert_eq!(v("node_disk_read_bytes_total"), Some(3_587_818.0 * 512.0));
        assert_eq!(v("node_disk_read_time_seconds_total"), Some(28.486));
        assert_eq!(v("node_disk_writes_completed_total"), Some(11_885.0));
        assert_eq!(
            v("node_disk_written_bytes_total"),
            Some(3_438_976.0 * 512.0)
        );
        assert_eq!(v("node_disk_write_time_seconds_total"), Some(15.422));
        assert_eq!(v("node_disk_io_now"), Some(0.0));
        assert_eq!(v("node_disk_io_time_seconds_total"), Some(13.124));
        assert_eq!(v("node_disk_io_time_weighted_seconds_total"), Some(44.265));
        assert_eq!(v("node_disk_discards_completed_total"), Some(1517.0));
        assert_eq!(v("node_disk_flush_requests_total"), Some(1604.0));
        assert_eq!(
            v("node_disk_flush_requests_time_seconds_total"),
            Some(0.074)
        );
        // loop0-7 and zram0 are excluded: only vda remains.
        assert!(out.series().iter().all(|s| s.labels["device"] == "vda"));
        // 17 counters and node_disk_info (labels empty without udev).
        assert_eq!(out.len(), 18);
        assert_eq!(
            out.find(
                "node_disk_info",
                &[
                    ("device", "vda"),
                    ("major", "254"),
                    ("minor", "0"),
                    ("model", ""),
                    ("path", ""),
                    ("revision", ""),
                    ("serial", ""),
                    ("wwn", "")
                ]
            ),
            Some(1.0)
        );
    }
}
