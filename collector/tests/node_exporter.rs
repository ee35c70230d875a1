//! The host metrics against the reference: Debian's node_exporter runs on
//! this machine and the collector reads the same host at the same moment.
//! Every `node_*` family both report must have the same label names and
//! the same series (devices, mount points, CPUs…), gauges the same values
//! and counters values between the collector's two passes around
//! node_exporter's answer. The family and series counts of both sides are
//! printed (`-- --nocapture`) so drift is visible. Required when CI=true.
//!
//! node_exporter is started with current upstream's device and mount-point
//! defaults, which the collector follows; Debian's 1.5 patches in others
//! (it leaves out `lo` and mounts under /run, /mnt and /media, and keeps
//! zram devices). README's collector section lists them.

use dozor_collector::output::Output;
use dozor_collector::proc::catalogue::describe;
use dozor_collector::proc::HostInput;
use dozor_common::expo::{Format, Kind, MetricType, Parser};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

type Series = BTreeMap<String, BTreeMap<BTreeSet<(String, String)>, f64>>;

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Current upstream node_exporter's filters (Debian's 1.5 differs).
const UPSTREAM_DEFAULTS: [&str; 4] = [
    "--collector.netdev.device-exclude=^$",
    "--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    "--collector.filesystem.fs-types-exclude=^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$",
    "--collector.diskstats.device-exclude=^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$",
];

/// node_exporter families (prefixes) the collector does not report yet.
const NOT_YET: [&str; 0] = [];

/// Families node_exporter writes about itself or from collectors that
/// have no counterpart in a host pass (its scrape bookkeeping).
fn own_bookkeeping(family: &str) -> bool {
    family.starts_with("node_scrape_collector_") || family == "node_exporter_build_info"
}

fn collect_dozor(textfiles: &std::path::Path) -> Series {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut out = Output::new(now);
    let errors = HostInput::new("/")
        .with_textfile_dir(textfiles)
        .collect(&mut out);
    assert!(errors.is_empty(), "host pass: {errors:?}");
    let mut by_family = Series::new();
    for s in out.series() {
        if !s.name.starts_with("node_") && !s.name.starts_with("cron_") {
            continue;
        }
        let labels = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        by_family
            .entry(s.name.clone())
            .or_default()
            .insert(labels, s.samples[0].value);
    }
    by_family
}

/// node_exporter's series by sample name, and each family's type.
fn parse_exporter(body: &str) -> (Series, BTreeMap<String, Kind>) {
    let mut series = Series::new();
    let mut kinds = BTreeMap::new();
    let mut p = Parser::new(body, Format::Text);
    while let Some(s) = p.next_sample() {
        let s = s.expect("node_exporter's exposition parses");
        let wanted = s.name.starts_with("node_") || s.name.starts_with("cron_");
        if !wanted || own_bookkeeping(s.family) {
            continue;
        }
        kinds.insert(s.name.to_string(), s.kind);
        let labels = s
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        series
            .entry(s.name.to_string())
            .or_default()
            .insert(labels, s.value);
    }
    (series, kinds)
}

#[tokio::test]
async fn host_metrics_match_node_exporter() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A textfile directory on both sides, as cron jobs write them.
    let textfiles = tempfile::tempdir().unwrap();
    std::fs::write(
        textfiles.path().join("backup.prom"),
        "# HELP cron_last_success_seconds When the job last succeeded.\n# TYPE cron_last_success_seconds gauge\ncron_last_success_seconds{job=\"backup\"} 1.7e+09\n",
    )
    .unwrap();
    let Ok(child) = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--collector.textfile.directory={}",
            textfiles.path().display()
        ))
        .args(UPSTREAM_DEFAULTS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        assert!(!in_ci, "prometheus-node-exporter is required when CI=true");
        eprintln!("skipping: prometheus-node-exporter is not installed");
        return;
    };
    let _exporter = Exporter(child);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut ready = false;
    for _ in 0..100 {
        if reqwest::get(&url).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "node_exporter answers");

    let started = std::time::Instant::now();
    let before = collect_dozor(textfiles.path());
    let ours_took = started.elapsed();
    let started = std::time::Instant::now();
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let theirs_took = started.elapsed();
    let after = collect_dozor(textfiles.path());
    // A figure, not a check: one host pass against one node_exporter
    // scrape, at the same moment on the same machine.
    println!(
        "one host pass: dozor {:.1} ms / node_exporter scrape {:.1} ms",
        ours_took.as_secs_f64() * 1e3,
        theirs_took.as_secs_f64() * 1e3
    );
    assert!(
        after.contains_key("cron_last_success_seconds"),
        "the textfile's metric"
    );
    let (theirs, kinds) = parse_exporter(&body);

    let count = |s: &Series| s.values().map(BTreeMap::len).sum::<usize>();
    println!(
        "families: dozor {} / node_exporter {}; series: dozor {} / node_exporter {}",
        after.len(),
        theirs.len(),
        count(&after),
        count(&theirs)
    );
    let only_theirs: Vec<&String> = theirs.keys().filter(|f| !after.contains_key(*f)).collect();
    let only_ours: Vec<&String> = after.keys().filter(|f| !theirs.contains_key(*f)).collect();
    println!("node_exporter only: {only_theirs:?}");
    println!("dozor only: {only_ours:?}");
    // What the collector does not report yet; anything else node_exporter
    // has and the collector lacks is a regression.
    let missing: Vec<&&String> = only_theirs
        .iter()
        .filter(|f| !NOT_YET.iter().any(|p| f.starts_with(p)))
        .collect();
    assert!(
        missing.is_empty(),
        "families the collector lost: {missing:?}"
    );

    let mut problems = Vec::new();
    let mut largest: (f64, String) = (0.0, String::new());
    // Memory gauges churn with whatever else runs (page tables, slab,
    // dirty pages): they are compared against the machine's memory.
    let mem_total = theirs
        .get("node_memory_MemTotal_bytes")
        .and_then(|m| m.values().next().copied())
        .unwrap_or(0.0);
    for (family, ours) in &after {
        let Some(reference) = theirs.get(family) else {
            continue;
        };
        // The TYPE the collector's /metrics and metadata give.
        let theirs_kind = kinds.get(family).copied().unwrap_or(Kind::Unknown);
        let ours_kind = describe(family).map(|(k, _)| k);
        let expected = match theirs_kind {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
            _ => MetricType::Untyped,
        };
        // A textfile's own families are typed by the file on both sides
        // (proc/textfile.rs tests the collector's).
        if family.starts_with("node_") && ours_kind != Some(expected) {
            problems.push(format!(
                "{family}: TYPE {ours_kind:?}, node_exporter {theirs_kind:?}"
            ));
        }
        let a: BTreeSet<_> = ours.keys().collect();
        let b: BTreeSet<_> = reference.keys().collect();
        if a != b {
            problems.push(format!(
                "{family}: series differ\n  dozor only {:?}\n  node_exporter only {:?}",
                a.difference(&b).collect::<Vec<_>>(),
                b.difference(&a).collect::<Vec<_>>()
            ));
            continue;
        }
        for (labels, theirs_v) in reference {
            let (v0, v1) = (before[family].get(labels), ours[labels]);
            let counter = matches!(kinds.get(family), Some(Kind::Counter));
            let ok = if counter {
                // Read between the collector's two passes.
                v0.is_some_and(|v0| *v0 <= *theirs_v + 1e-6) && *theirs_v <= v1 + 1e-6
            } else {
                let lo = v0.copied().unwrap_or(v1).min(v1);
                let hi = v0.copied().unwrap_or(v1).max(v1);
                // Momentary counts the readers themselves move: runnable
                // tasks (both run), sockets and connections (the scrape's
                // own TCP connection), queued bytes, and disk I/Os in
                // flight (a busy CI machine had 3 at one read and 0 at
                // the next). Other gauges move slowly: 2%.
                let relative = 0.02 * theirs_v.abs().max(1.0);
                let slack = if family.starts_with("node_procs_") {
                    8.0
                } else if family == "node_disk_io_now" {
                    relative.max(64.0)
                } else if family.starts_with("node_sockstat_")
                    || family == "node_netstat_Tcp_CurrEstab"
                    || family == "node_nf_conntrack_entries"
                {
                    relative.max(0.1 * theirs_v.abs()).max(4.0)
                } else if family == "node_udp_queues" {
                    relative.max(65536.0)
                } else if family.starts_with("node_memory_") {
                    relative.max(0.002 * mem_total)
                } else {
                    relative
                };
                *theirs_v >= lo - slack && *theirs_v <= hi + slack
            };
            let diff = (theirs_v - v1).abs() / theirs_v.abs().max(1.0);
            if diff > largest.0 {
                largest = (diff, format!("{family}{labels:?}"));
            }
            if !ok {
                problems.push(format!(
                    "{family}{labels:?}: node_exporter {theirs_v}, dozor {v0:?} then {v1}"
                ));
            }
        }
    }
    println!(
        "largest relative difference: {:.2e} at {}",
        largest.0, largest.1
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
