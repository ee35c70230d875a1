//! dozor against a real Prometheus on the same data, in the same run
//! (issue 23). Not a test.
//!
//!   cargo bench -p dozor-server --bench vs_prometheus
//!   DOZOR_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!       cargo bench -p dozor-server --bench vs_prometheus
//!
//! The same samples go into dozor (SQLite, and PostgreSQL when a URL is
//! given) and into Debian's Prometheus (blocks built by its own `promtool
//! tsdb create-blocks-from openmetrics`, then `prometheus` started on
//! them). Each query shape is asked of both over HTTP in alternating
//! rounds (the median of each is reported, with the ratio), and so is the
//! host page: every panel query of `dashboards/host.toml` over this
//! machine's own host series (`host_page.rs`). Then both
//! take remote_write in Prometheus's own shape (2,000 series × 1 sample
//! per request, from 4 shards with their own series, each in order, as
//! a real Prometheus sends) and with 10 samples per series; on PostgreSQL, a raw COPY of
//! the same rows into a plain table in the same cluster is the floor.
//! Memory: the bench process's (dozor runs in it) and Prometheus's peak
//! resident size.
//!
//! `DOZOR_BENCH_ROUNDS` (3), `DOZOR_BENCH_WARMUP` (10 untimed rounds
//! first) and `DOZOR_BENCH_WRITE_SECS` (20 per shape) scale the run. `DOZOR_BENCH_SUSTAINED_SECS=600` instead runs only the
//! sustained write (`sustained.rs`) on each store, without Prometheus.

mod compaction;
mod host_page;
mod prometheus;
#[path = "../shared/reader.rs"]
mod reader;
mod sustained;
mod writes;

use dozor_common::{Sample, SeriesBatch};
use dozor_server::{Config, Server};
use prometheus::{start_prometheus, Prometheus};
use sqlx::Connection;
use std::time::Instant;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(pid: &str, field: &str) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The data both sides hold: one gauge × 24 h and 100 counters (10
/// groups of `x`) × 6 h, all at 15 s, and this machine's host series
/// over 24 h (`host_page`).
fn data(now: i64) -> Vec<SeriesBatch> {
    let mut out = Vec::new();
    let day = (0..DAY_MS / 15_000)
        .map(|i| Sample::new(now - DAY_MS + i * 15_000, (i % 97) as f64))
        .collect();
    out.push(SeriesBatch::new(
        "bench_gauge",
        [("host".to_string(), "bench".to_string())].into(),
        day,
    ));
    for s in 0..100i64 {
        let labels = [
            ("x".to_string(), format!("g{}", s % 10)),
            ("i".to_string(), s.to_string()),
        ]
        .into();
        let samples = (0..6 * HOUR_MS / 15_000)
            .map(|i| Sample::new(now - 6 * HOUR_MS + i * 15_000, (i * (s % 7 + 1)) as f64))
            .collect();
        out.push(SeriesBatch::new("bench_counter", labels, samples));
    }
    out.extend(host_page::data(now));
    out
}

/// One query shape: its name, and the query string (start, end, step s).
struct Shape {
    name: &'static str,
    query: &'static str,
    range_ms: i64,
    step_s: i64,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "1 series x 24 h, step 15 s",
        query: "bench_gauge",
        range_ms: DAY_MS,
        step_s: 15,
    },
    Shape {
        name: "sum by (x)(rate(m[5m])), 100 series x 6 h, step 60 s",
        query: "sum by (x) (rate(bench_counter[5m]))",
        range_ms: 6 * HOUR_MS,
        step_s: 60,
    },
];

/// Seconds for one range query, and the series and points it returned.
async fn ask(http: &reqwest::Client, base: &str, s: &Shape, end_ms: i64) -> (f64, usize, usize) {
    let started = Instant::now();
    let r = http
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", s.query.to_string()),
            ("start", ((end_ms - s.range_ms) / 1000).to_string()),
            ("end", (end_ms / 1000).to_string()),
            ("step", s.step_s.to_string()),
        ])
        .send()
        .await
        .unwrap();
    let body = r.bytes().await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "success", "{base}: {}: {v}", s.query);
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    let points = result
        .iter()
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .sum();
    (secs, result.len(), points)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn client(token: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

async fn start_dozor(dir: &tempfile::TempDir, database_url: Option<String>) -> (Server, String) {
    let mut cfg = Config::for_data_dir(dir.path());
    cfg.local_collector = false;
    cfg.database_url = database_url;
    let server = Server::start(cfg).await.unwrap();
    let token = reader::read_token(&server).await;
    (server, token)
}

async fn queries(label: &str, server: &Server, token: &str, prom: &Prometheus, now: i64) {
    let rounds = env_num("DOZOR_BENCH_ROUNDS", 3).max(1);
    // A server answers the same panel queries all day: PostgreSQL plans a
    // prepared statement afresh for its first five runs on a connection
    // (0.3–2.3 ms each here) before it keeps a plan, and the pool has
    // several connections. Both sides get the same untimed rounds.
    let warmup = env_num("DOZOR_BENCH_WARMUP", 10).max(1);
    let dozor = client(token);
    let plain = reqwest::Client::new();
    let base = format!("{}/prometheus", server.url());
    let rss0 = status_kb("self", "VmHWM:");
    for s in SHAPES {
        let (mut d, mut p) = (Vec::new(), Vec::new());
        let (mut dshape, mut pshape) = ((0, 0), (0, 0));
        // Warm-up rounds of each (untimed), then alternating rounds.
        // dozor's results cache is keyed by the query and its range:
        // moving the end by a step each round keeps every answer
        // uncached, on both sides.
        let all = warmup + rounds;
        for round in 0..all {
            let end = now - (all - 1 - round) as i64 * s.step_s * 1000;
            let (dt, ds, dp) = ask(&dozor, &base, s, end).await;
            let (pt, ps, pp) = ask(&plain, &prom.url, s, end).await;
            if round >= warmup {
                d.push(dt);
                p.push(pt);
            }
            (dshape, pshape) = ((ds, dp), (ps, pp));
        }
        assert_eq!(dshape, pshape, "{}: same series and points", s.name);
        let (dm, pm) = (median(d) * 1e3, median(p) * 1e3);
        println!(
            "{label}: {:<55} dozor {dm:>8.1} ms   prometheus {pm:>7.1} ms   ratio {:>5.1}x   ({} series, {} points)",
            s.name,
            dm / pm,
            dshape.0,
            dshape.1
        );
    }
    println!(
        "{label}: peak RSS of the bench process (dozor) +{} KiB over the queries; Prometheus peak {} KiB",
        status_kb("self", "VmHWM:") - rss0,
        prom.peak_kb()
    );
    host_page::host_page(
        label,
        &dozor,
        &base,
        prom,
        now,
        warmup as usize,
        rounds as usize,
    )
    .await;
}

async fn run(
    label: &str,
    database_url: Option<String>,
    series: &[SeriesBatch],
    prom: &Prometheus,
    now: i64,
) {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = start_dozor(&dir, database_url.clone()).await;
    for b in series.chunks(10) {
        server.store.append(b, now).await.unwrap();
    }
    compaction::compact_all(label, &server).await;
    queries(label, &server, &token, prom, now).await;
    writes::writes(label, &server, prom, database_url.as_deref()).await;
    server.shutdown().await;
}

/// The PostgreSQL side: a fresh database in the cluster at
/// `DOZOR_BENCH_DATABASE_URL` (or the tests' URL), when one is given.
async fn postgres_database() -> Option<String> {
    let admin = std::env::var("DOZOR_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("DOZOR_TEST_DATABASE_URL"));
    let Ok(admin) = admin else {
        println!("set DOZOR_BENCH_DATABASE_URL to compare PostgreSQL too");
        return None;
    };
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let name = format!("dozor_vsprom_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(format!("{}/{name}", admin.rsplit_once('/').unwrap().0))
}

#[tokio::main]
async fn main() {
    let sustained_secs = env_num("DOZOR_BENCH_SUSTAINED_SECS", 0);
    if sustained_secs > 0 {
        for (label, url) in [("sqlite", None), ("postgres", postgres_database().await)] {
            if label == "postgres" && url.is_none() {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let (server, _) = start_dozor(&dir, url).await;
            sustained::sustained(label, &server, sustained_secs).await;
            server.shutdown().await;
        }
        return;
    }
    // The data ends at a 2-hour boundary at least 2 hours ago: promtool
    // cuts 2-hour blocks, and Prometheus takes remote writes only after
    // its newest block.
    let now = dozor_server::clock::system_ms() / (2 * HOUR_MS) * (2 * HOUR_MS) - 2 * HOUR_MS;
    let series = data(now);
    let hosts = series
        .iter()
        .filter(|s| s.labels.get("host").map(String::as_str) == Some(host_page::HOST))
        .count();
    println!("this machine's host: {hosts} series");
    let prom = start_prometheus(&series).await;
    run("sqlite", None, &series, &prom, now).await;
    if let Some(url) = postgres_database().await {
        run("postgres", Some(url), &series, &prom, now).await;
    }
}
