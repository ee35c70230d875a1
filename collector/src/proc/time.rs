//! node_exporter's time and timex collectors: the clock sources the kernel
//! offers and uses, the local time zone's offset, and the kernel's clock
//! discipline from adjtimex(2): whether the clock is synchronised
//! (`node_timex_sync_status`), its offset and error estimates. These are
//! what clock-skew alerts read.

use crate::output::Output;
use std::path::Path;

/// `sys/devices/system/clocksource/clocksource<N>/{available,current}_clocksource`.
pub fn clocksources(dir: &Path, out: &mut Output) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(String, std::path::PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("clocksource")?.to_string();
            n.parse::<u32>().ok().map(|_| (n, e.path()))
        })
        .collect();
    found.sort();
    for (device, path) in found {
        let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap_or_default();
        for source in read("available_clocksource").split_ascii_whitespace() {
            out.push(
                "node_time_clocksource_available_info",
                &[("clocksource", source), ("device", &device)],
                1.0,
            );
        }
        let current = read("current_clocksource");
        if let Some(source) = current.split_ascii_whitespace().next() {
            out.push(
                "node_time_clocksource_current_info",
                &[("clocksource", source), ("device", &device)],
                1.0,
            );
        }
    }
}

/// The collector's local zone (TZ, else /etc/localtime), as node_exporter
/// reports its own.
pub fn zone(ts_ms: i64, out: &mut Output) {
    let t: libc::time_t = (ts_ms / 1000) as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack
    // frame, and reads `t`; tm_zone then points into libc's static zone
    // names (valid for the process), read once right here.
    let (offset, name) = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return;
        }
        let name = if tm.tm_zone.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        (tm.tm_gmtoff, name)
    };
    out.push(
        "node_time_zone_offset_seconds",
        &[("time_zone", &name)],
        offset as f64,
    );
}

const STA_NANO: i32 = 0x2000;
const TIME_ERROR: i32 = 5;

/// adjtimex(2) in read-only mode (modes 0), scaled as node_exporter does.
pub fn timex(out: &mut Output) -> Result<(), String> {
    // SAFETY: with modes 0 adjtimex only fills the struct it is given,
    // which is zeroed and owned here.
    let (status, tx) = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        let status = libc::adjtimex(&mut tx);
        (status, tx)
    };
    if status < 0 {
        return Err(format!("adjtimex: {}", std::io::Error::last_os_error()));
    }
    // Offsets and jitter are in nanoseconds with STA_NANO, else
    // microseconds; the error estimates are always microseconds.
    let divisor = if tx.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let ppm = |v: libc::c_long| v as f64 / 65536.0 / 1e6;
    let series: [(&str, f64); 17] = [
        ("node_timex_offset_seconds", tx.offset as f64 / divisor),
        ("node_timex_frequency_adjustment_ratio", 1.0 + ppm(tx.freq)),
        ("node_timex_maxerror_seconds", tx.maxerror as f64 / 1e6),
        (
            "node_timex_estimated_error_seconds",
            tx.esterror as f64 / 1e6,
        ),
        ("node_timex_status", tx.status as f64),
        ("node_timex_loop_time_constant", tx.constant as f64),
        ("node_timex_tick_seconds", tx.tick as f64 / 1e6),
        ("node_timex_pps_frequency_hertz", ppm(tx.ppsfreq)),
        ("node_timex_pps_jitter_seconds", tx.jitter as f64 / divisor),
        ("node_timex_pps_shift_seconds", tx.shift as f64),
        ("node_timex_pps_stability_hertz", ppm(tx.stabil)),
        ("node_timex_pps_jitter_total", tx.jitcnt as f64),
        ("node_timex_pps_calibration_total", tx.calcnt as f64),
        ("node_timex_pps_error_total", tx.errcnt as f64),
        ("node_timex_pps_stability_exceeded_total", tx.stbcnt as f64),
        ("node_timex_tai_offset_seconds", tx.tai as f64),
        (
            "node_timex_sync_status",
            if status == TIME_ERROR { 0.0 } else { 1.0 },
        ),
    ];
    for (name, v) in series {
        out.push(name, &[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_sources_per_device() {
        let dir = tempfile::tempdir().unwrap();
        let cs = dir.path().join("clocksource0");
        std::fs::create_dir_all(&cs).unwrap();
        std::fs::write(cs.join("available_clocksource"), "tsc kvm-clock \n").unwrap();
        std::fs::write(cs.join("current_clocksource"), "tsc\n").unwrap();
        std::fs::create_dir_all(dir.path().join("power")).unwrap();
        let mut out = Output::new(0);
        clocksources(dir.path(), &mut out);
        let l = |s| [("clocksource", s), ("device", "0")];
        assert_eq!(
            out.find("node_time_clocksource_available_info", &l("kvm-clock")),
            Some(1.0)
        );
        assert_eq!(
            out.find("node_time_clocksource_current_info", &l("tsc")),
            Some(1.0)
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn the_kernel_clock_is_read() {
        let mut out = Output::new(0);
        timex(&mut out).unwrap();
        let tick = out.find("node_timex_tick_seconds", &[]).unwrap();
        assert!(tick > 0.0 && tick < 1.0, "{tick}");
        zone(1_700_000_000_000, &mut out);
        assert!(out
            .series()
            .iter()
            .any(|s| s.name == "node_time_zone_offset_seconds"));
    }
}
