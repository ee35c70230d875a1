//! Synthetic hosts for the dashboard's browser tests and render benchmark:
//! node_exporter-named series with plausible shapes, and agent records
//! with inventory. Label values may carry markup on purpose (`hostile`),
//! to prove pages escape what agents send.

use crate::auth;
use crate::storage::{NewAgent, StorageError, Store};
use dozor_common::{Labels, Sample, SeriesBatch};

pub struct Demo<'a> {
    pub host: &'a str,
    /// Last heartbeat; old for an offline host.
    pub last_seen_ms: i64,
    /// Add label values that are HTML/JS injection attempts.
    pub hostile: bool,
}

fn labels(host: &str, extra: &[(&str, &str)]) -> Labels {
    let mut l: Labels = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("host".into(), host.into());
    l
}

/// `f(i)` for each 15 s step over `[start, end]`.
fn series(name: &str, l: Labels, start: i64, end: i64, f: impl Fn(i64) -> f64) -> SeriesBatch {
    let samples = (0..=(end - start) / 15_000)
        .map(|i| Sample::new(start + i * 15_000, f(i)))
        .collect();
    SeriesBatch::new(name, l, samples)
}

pub const INJECTION_DEVICE: &str = "<script>alert('dev')</script>";
pub const INJECTION_MOUNT: &str = "/\"><img src=x onerror=alert('mnt')>";

/// Writes `[now - span, now]` of data for `d.host` and its agent record.
pub async fn seed(store: &Store, d: &Demo<'_>, now: i64, span_ms: i64) -> Result<(), StorageError> {
    let (h, start) = (d.host, now - span_ms);
    let seed = d.host.bytes().map(i64::from).sum::<i64>();
    let wave = move |i: i64, period: f64| ((i as f64 + seed as f64) / period).sin();
    let mut b = Vec::new();
    for cpu in ["0", "1"] {
        for (mode, rate) in [
            ("idle", 0.7),
            ("user", 0.2),
            ("system", 0.08),
            ("iowait", 0.02),
        ] {
            b.push(series(
                "node_cpu_seconds_total",
                labels(h, &[("cpu", cpu), ("mode", mode)]),
                start,
                now,
                // Monotonic: the wave's slope never exceeds the base rate.
                move |i| i as f64 * 15.0 * rate + 100.0 * rate * wave(i, 40.0),
            ));
        }
    }
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let mem = [
        ("node_memory_MemTotal_bytes", 8.0 * GIB, 0.0),
        ("node_memory_MemAvailable_bytes", 5.0 * GIB, 0.5 * GIB),
        ("node_memory_MemFree_bytes", 2.0 * GIB, 0.3 * GIB),
        ("node_memory_Buffers_bytes", 0.2 * GIB, 0.0),
        ("node_memory_Cached_bytes", 2.5 * GIB, 0.2 * GIB),
        ("node_memory_SwapTotal_bytes", 2.0 * GIB, 0.0),
        ("node_memory_SwapFree_bytes", 1.8 * GIB, 0.05 * GIB),
    ];
    for (name, base, amp) in mem {
        b.push(series(name, labels(h, &[]), start, now, move |i| {
            base + amp * wave(i, 30.0)
        }));
    }
    for (name, period) in [
        ("node_load1", 10.0),
        ("node_load5", 30.0),
        ("node_load15", 90.0),
    ] {
        b.push(series(name, labels(h, &[]), start, now, move |i| {
            1.0 + 0.8 * wave(i, period)
        }));
    }
    let mut mounts = vec![("/", "/dev/sda1"), ("/var", "/dev/sda2")];
    let mut devices = vec!["eth0"];
    if d.hostile {
        mounts.push((INJECTION_MOUNT, "/dev/sdb1"));
        devices.push(INJECTION_DEVICE);
    }
    for (m, dev) in mounts {
        let l = labels(h, &[("mountpoint", m), ("device", dev), ("fstype", "ext4")]);
        b.push(series(
            "node_filesystem_size_bytes",
            l.clone(),
            start,
            now,
            |_| 100.0 * GIB,
        ));
        b.push(series(
            "node_filesystem_avail_bytes",
            l.clone(),
            start,
            now,
            move |i| 40.0 * GIB - i as f64 * 1e6,
        ));
        b.push(series(
            "node_filesystem_free_bytes",
            l,
            start,
            now,
            move |i| 45.0 * GIB - i as f64 * 1e6,
        ));
    }
    for dev in devices {
        let l = labels(h, &[("device", dev)]);
        b.push(series(
            "node_network_receive_bytes_total",
            l.clone(),
            start,
            now,
            move |i| i as f64 * 15.0 * 2e5 + 2e7 * wave(i, 20.0),
        ));
        b.push(series(
            "node_network_transmit_bytes_total",
            l,
            start,
            now,
            move |i| i as f64 * 15.0 * 5e4 + 5e6 * wave(i, 25.0),
        ));
    }
    let l = labels(h, &[("device", "sda")]);
    b.push(series(
        "node_disk_read_bytes_total",
        l.clone(),
        start,
        now,
        |i| i as f64 * 15.0 * 1e5,
    ));
    b.push(series(
        "node_disk_written_bytes_total",
        l.clone(),
        start,
        now,
        |i| i as f64 * 15.0 * 3e5,
    ));
    b.push(series(
        "node_disk_io_time_seconds_total",
        l,
        start,
        now,
        |i| i as f64 * 15.0 * 0.05,
    ));
    // A gap: the host was down for ten minutes in the middle.
    let gap = (start + span_ms / 2, start + span_ms / 2 + 600_000);
    for s in &mut b {
        s.samples.retain(|x| !(gap.0..gap.1).contains(&x.ts_ms));
    }
    store.append(&b, now).await?;

    let inventory = serde_json::json!({
        "hostname": h, "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-28-amd64",
        "cpu_model": "Demo CPU @ 2.40GHz", "cpu_cores": 2, "memory_bytes": 8u64 << 30,
        "boot_time": (now - 3 * 86_400_000) / 1000, "agent_version": env!("CARGO_PKG_VERSION"),
    });
    let new = NewAgent {
        name: h.to_string(),
        key_hash: auth::hash_secret(&auth::generate(auth::AGENT_KEY_PREFIX)),
        kind: "remote".into(),
        inventory: Some(inventory.clone()),
    };
    store.create_agent(&new, now - span_ms).await?;
    if let Some(a) = store.agent_by_name(h).await? {
        store
            .touch_agent(a.id, d.last_seen_ms, Some(&inventory))
            .await?;
    }
    Ok(())
}
