//! Access log follower benchmark (not a test).
//!
//!   cargo bench -p dozor-collector --bench access_log
//!
//! 1. Throughput on one core: 2,000,000 lines in nginx's `dozor_json`
//!    shape (four services, real-looking paths and user agents, about 330
//!    bytes each) read from a file by the follower and counted by the
//!    tally, against two baselines in the same run: reading and splitting
//!    the lines only (the floor), and parsing each into a
//!    `serde_json::Value` (what a naive follower does). Best of 3.
//! 2. Memory at 20,000 lines/s: a writer thread appends at that rate for
//!    30 s, renaming the file every 10 s as a rotation does, while the
//!    follower polls every 200 ms; resident memory is sampled every
//!    second, and the process's CPU time gives the follower's share.

use dozor_collector::traffic::follow::{Follower, Lines};
use dozor_collector::traffic::line::Skip;
use dozor_collector::traffic::tally::Tally;
use dozor_collector::traffic::Sensor;
use std::io::Write;
use std::time::{Duration, Instant};

const SERVICES: [&str; 4] = ["web", "api", "shop", "static-assets"];
const PATHS: [&str; 6] = [
    "/",
    "/api/v1/orders/123456",
    "/static/js/app.3f9c2a.js",
    "/login",
    "/images/products/large/9781234567890.jpg",
    "/wp-login.php",
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "curl/7.88.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
];
const STATUSES: [u16; 8] = [200, 200, 200, 200, 304, 404, 502, 200];

fn line(i: usize) -> String {
    let t = (i % 997) as f64 / 1000.0;
    format!(
        concat!(
            r#"{{"msec":{}.{:03},"request_id":"{:032x}","service":"{}","client":"203.0.113.{}","#,
            r#""method":"GET","path":"{}","status":{},"bytes":{},"request_time":{:.3},"#,
            r#""upstream_time":"{:.3}","upstream":"172.18.0.{}:8080","user_agent":"{}"}}"#,
            "\n"
        ),
        1_733_380_000 + i / 1000,
        i % 1000,
        i.wrapping_mul(2_654_435_761),
        SERVICES[i % SERVICES.len()],
        i % 250,
        PATHS[i % PATHS.len()],
        STATUSES[i % STATUSES.len()],
        (i * 37) % 50_000,
        t,
        t * 0.8,
        i % 8 + 2,
        AGENTS[i % AGENTS.len()],
    )
}

/// Counts lines and bytes only: the floor.
#[derive(Default)]
struct Split(u64);
impl Lines for Split {
    fn line(&mut self, l: &[u8]) {
        self.0 += l.len() as u64;
    }
    fn skip(&mut self, _: Skip) {}
}

/// Parses every line into a generic JSON value.
#[derive(Default)]
struct Naive(u64);
impl Lines for Naive {
    fn line(&mut self, l: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
            self.0 += v["status"].as_u64().unwrap_or(0);
        }
    }
    fn skip(&mut self, _: Skip) {}
}

fn known() -> Tally {
    let mut t = Tally::default();
    t.set_known(SERVICES.iter().map(|s| s.to_string()));
    t
}

/// What the agent runs: the tally and the protection rules.
fn sensor() -> Sensor {
    let mut s = Sensor::default();
    s.tally.set_known(SERVICES.iter().map(|s| s.to_string()));
    s.guard
        .configure(&dozor_common::protection::ProtectionDoc::default());
    s
}

/// Seconds to follow the whole file once from its start.
fn follow_all(path: &std::path::Path, sink: &mut dyn Lines) -> f64 {
    let hidden = path.with_extension("hidden");
    std::fs::rename(path, &hidden).unwrap();
    let mut f = Follower::new(path.to_path_buf());
    std::fs::rename(&hidden, path).unwrap();
    let start = Instant::now();
    f.poll(sink).unwrap();
    start.elapsed().as_secs_f64()
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    const N: usize = 2_000_000;
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..N {
            w.write_all(line(i).as_bytes()).unwrap();
        }
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "{N} lines, {:.1} MB, {:.0} bytes per line (file in the page cache)",
        bytes as f64 / 1e6,
        bytes as f64 / N as f64
    );
    // Warm the page cache.
    follow_all(&path, &mut Split::default());

    let best = |f: &mut dyn FnMut() -> f64| (0..3).map(|_| f()).fold(f64::MAX, f64::min);
    let split = best(&mut || follow_all(&path, &mut Split::default()));
    let naive = best(&mut || follow_all(&path, &mut Naive::default()));
    let mut counted = 0;
    let dozor = best(&mut || {
        let mut t = known();
        let s = follow_all(&path, &mut t);
        counted = t.lines() - t.skipped(Skip::Malformed);
        s
    });
    assert_eq!(counted, N as u64, "every line counted");
    let mut blocked = 0;
    let agent = best(&mut || {
        let mut sn = sensor();
        let s = follow_all(&path, &mut sn);
        blocked = sn.guard.denied(dozor_collector::agent::now_ms()).len();
        s
    });
    println!("(the agent's rules blocked {blocked} of the 250 client addresses: each sends 8,000 requests at once)");
    println!("| reader | lines/s (one core) | MB/s | vs dozor |");
    println!("|---|---|---|---|");
    for (name, s) in [
        ("read + split only (floor)", split),
        ("serde_json::Value per line (naive)", naive),
        ("dozor follower + tally", dozor),
        (
            "dozor follower + tally + protection rules (the agent)",
            agent,
        ),
    ] {
        println!(
            "| {name} | {:.0}k | {:.0} | {:.2}× |",
            N as f64 / s / 1e3,
            bytes as f64 / s / 1e6,
            s / dozor
        );
    }

    // Memory and CPU at 20,000 lines/s, with rotations.
    std::fs::remove_file(&path).unwrap();
    let writer_path = path.clone();
    let rate = 20_000usize;
    let secs = 30;
    let writer = std::thread::spawn(move || {
        let start = Instant::now();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&writer_path)
            .unwrap();
        let mut i = 0;
        for tick in 0..secs * 10 {
            if tick > 0 && tick % 100 == 0 {
                std::fs::rename(&writer_path, writer_path.with_extension("log.1")).unwrap();
                f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&writer_path)
                    .unwrap();
            }
            let mut chunk = String::new();
            for _ in 0..rate / 10 {
                chunk.push_str(&line(i));
                i += 1;
            }
            f.write_all(chunk.as_bytes()).unwrap();
            let due = Duration::from_millis((tick as u64 + 1) * 100);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        i
    });
    let mut tally = sensor();
    let mut f = Follower::new(path.clone());
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let mut rss = Vec::new();
    let mut next_sample = Duration::ZERO;
    while !writer.is_finished() || start.elapsed() < Duration::from_secs(secs as u64 + 6) {
        f.poll(&mut tally).unwrap();
        if start.elapsed() >= next_sample {
            rss.push(rss_kib());
            next_sample += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let written = writer.join().unwrap();
    let cpu = cpu_seconds() - cpu0;
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(
        tally.tally.lines(),
        written as u64,
        "no line lost or read twice"
    );
    println!(
        "\n20,000 lines/s for {secs} s with {} rotations: {} lines read of {written} written; RSS first {} KiB, max {} KiB, last {} KiB; CPU {:.1}% of one core (writer included)",
        f.rotations(),
        tally.tally.lines(),
        rss[0],
        rss.iter().max().unwrap(),
        rss.last().unwrap(),
        100.0 * cpu / wall
    );
}
