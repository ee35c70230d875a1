//! PromQL query benchmark (not a test), through the real HTTP API.
//!
//!   cargo bench -p dozor-server --bench query
//!   DOZOR_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p dozor-server --bench query
//!
//! 1. A range query over 1 series × 24 h at a 15 s step, against the raw
//!    SQL that reads the same samples, in the same run.
//! 2. `avg by (host) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))`
//!    over 100 simulated hosts (2 CPUs × 8 modes each) × 1 h at 15 s.
//! 3. `avg_over_time` and `max_over_time` over 10 series × 7 days at 15 s,
//!    hourly windows and steps: read from rollups vs raw samples, same run.
//!
//! Memory: the process's resident-set growth and peak (VmHWM) growth
//! around each query, from /proc/self/status.

#[path = "shared/reader.rs"]
mod reader;

use dozor_common::{Sample, SeriesBatch};
use dozor_server::{Config, Server};
use sqlx::Connection;
use std::time::Instant;

const DAY_MS: i64 = 86_400_000;

fn status_kb(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The read token every query sends (the Prometheus API needs one).
static TOKEN: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

async fn time_http(url: &str, runs: usize) -> (f64, usize, i64, i64) {
    let token = TOKEN.lock().unwrap().clone();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let (rss0, hwm0) = (status_kb("VmRSS:"), status_kb("VmHWM:"));
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let body = http.get(url).send().await.unwrap().text().await.unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert!(
            body.starts_with("{\"status\":\"success\""),
            "{}",
            &body[..body.len().min(300)]
        );
        bytes = body.len();
    }
    (
        best,
        bytes,
        status_kb("VmRSS:") - rss0,
        status_kb("VmHWM:") - hwm0,
    )
}

async fn bench(label: &str, database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::for_data_dir(dir.path());
    cfg.local_collector = false;
    cfg.database_url = database_url.clone();
    let server = Server::start(cfg).await.unwrap();
    let now = dozor_server::clock::system_ms() / 15_000 * 15_000;
    *TOKEN.lock().unwrap() = reader::read_token(&server).await;

    // 1 series × 24 h at 15 s.
    let day: Vec<Sample> = (0..5760)
        .map(|i| Sample::new(now - DAY_MS + i * 15_000, (i % 97) as f64))
        .collect();
    let labels = [("host".to_string(), "bench".to_string())]
        .into_iter()
        .collect();
    server
        .store
        .append(&[SeriesBatch::new("bench_gauge", labels, day)], now)
        .await
        .unwrap();

    // 100 hosts × 2 CPUs × 8 modes × 1 h at 10 s.
    let modes = [
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
    ];
    for h in 0..100 {
        let mut batch = Vec::new();
        for cpu in 0..2 {
            for (m, mode) in modes.iter().enumerate() {
                let labels = [
                    ("host", format!("host-{h:03}")),
                    ("cpu", cpu.to_string()),
                    ("mode", mode.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let samples = (0..360)
                    .map(|i| {
                        Sample::new(
                            now - 3_600_000 + i * 10_000,
                            (i * (m as i64 + 1)) as f64 * 0.1,
                        )
                    })
                    .collect();
                batch.push(SeriesBatch::new("node_cpu_seconds_total", labels, samples));
            }
        }
        server.store.append(&batch, now).await.unwrap();
    }

    let base = format!("{}/prometheus/api/v1", server.url());
    let start = (now - DAY_MS) / 1000;
    let end = now / 1000;
    let q1 = format!("{base}/query_range?query=bench_gauge&start={start}&end={end}&step=15");
    let (t1, b1, rss1, hwm1) = time_http(&q1, 5).await;

    // The same samples with raw SQL, on the same database, in this run.
    let id = server
        .store
        .find_series(Some("bench_gauge"), &Default::default(), 1)
        .await
        .unwrap()[0]
        .id;
    // Connections are opened once, outside the timing, as the server's
    // pool is.
    let mut pg = match &database_url {
        Some(url) => Some(sqlx::PgConnection::connect(url).await.unwrap()),
        None => None,
    };
    let mut lite = match &database_url {
        Some(_) => None,
        None => {
            let path = dir.path().join("dozor.db");
            Some(
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap(),
            )
        }
    };
    let mut raw_best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let n = match pg.as_mut() {
            Some(c) => {
                let rows: Vec<(i64, f64)> = sqlx::query_as(
                    "SELECT dozor_ms(ts), value FROM samples WHERE series_id = $1 AND ts >= dozor_ts($2) AND ts <= dozor_ts($3) ORDER BY ts",
                )
                .bind(id)
                .bind(now - DAY_MS - 300_000)
                .bind(now)
                .fetch_all(&mut *c)
                .await
                .unwrap();
                rows.len()
            }
            None => {
                let rows: Vec<(i64, Option<f64>)> = sqlx::query_as(
                    "SELECT ts, value FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ? ORDER BY ts",
                )
                .bind(id)
                .bind(now - DAY_MS - 300_000)
                .bind(now)
                .fetch_all(lite.as_mut().expect("sqlite connection"))
                .await
                .unwrap();
                rows.len()
            }
        };
        assert_eq!(n, 5760);
        raw_best = raw_best.min(started.elapsed().as_secs_f64());
    }

    let q2 = format!(
        "{base}/query_range?query={}&start={}&end={end}&step=15",
        "avg%20by%20(host)%20(rate(node_cpu_seconds_total%7Bmode!%3D%22idle%22%7D%5B5m%5D))",
        end - 3600
    );
    let (t2, b2, rss2, hwm2) = time_http(&q2, 3).await;

    let (roll, raw, buckets) = rollup_bench(&server, now).await;

    println!("{label}:");
    println!("  1 series x 24h @15s  query_range {:>8.1} ms   raw SQL {:>8.1} ms   ratio {:.2}x   ({b1} bytes JSON, RSS +{rss1} KiB, peak +{hwm1} KiB)", t1 * 1e3, raw_best * 1e3, t1 / raw_best);
    println!("  avg by (host)(rate(...[5m])) 100 hosts x 1h @15s  {:>8.1} ms   ({b2} bytes JSON, RSS +{rss2} KiB, peak +{hwm2} KiB)", t2 * 1e3);
    println!("  avg_over_time+max_over_time [1h] 10 series x 7d, step 1h: rollups {:>8.1} ms   raw {:>8.1} ms   raw/rollups {:.1}x   ({buckets} buckets read)", roll * 1e3, raw * 1e3, raw / roll);
    server.shutdown().await;
}

/// Best-of-3 times of the same week-long query with and without rollups.
async fn rollup_bench(server: &Server, now: i64) -> (f64, f64, u64) {
    use dozor_server::promql::{Limits, Range};
    const HOUR: i64 = 3_600_000;
    let week = 7 * DAY_MS;
    for s in 0..10 {
        let labels = [("host".to_string(), format!("w{s}"))]
            .into_iter()
            .collect();
        let samples = (0..week / 15_000)
            .map(|i| Sample::new(now - week + i * 15_000, ((i * (s + 3)) % 101) as f64))
            .collect();
        server
            .store
            .append(&[SeriesBatch::new("bench_week", labels, samples)], now)
            .await
            .unwrap();
    }
    while server.store.refresh_rollups(now).await.unwrap() > 0 {}
    let engine = dozor_server::storage::engine(&server.store, Limits::default());
    let end = now / HOUR * HOUR - HOUR;
    let r = Range {
        start_ms: end - 6 * DAY_MS,
        end_ms: end,
        step_ms: HOUR,
    };
    let q = "avg_over_time(bench_week[1h]) + max_over_time(bench_week[1h])";
    let mut best = [f64::MAX; 2];
    for (i, e) in [engine.clone(), engine.without_rollups()]
        .iter()
        .enumerate()
    {
        for _ in 0..3 {
            let started = Instant::now();
            let v = e.range(q, r).await.unwrap();
            best[i] = best[i].min(started.elapsed().as_secs_f64());
            assert!(matches!(v, dozor_server::promql::Value::Matrix(m) if m.len() == 10));
        }
    }
    let buckets = engine
        .stats()
        .rollup_buckets_loaded
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(buckets > 0, "the rollup path was not taken");
    (best[0], best[1], buckets / 3)
}

#[tokio::main]
async fn main() {
    bench("sqlite", None).await;
    let admin = std::env::var("DOZOR_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("DOZOR_TEST_DATABASE_URL"));
    let Ok(admin) = admin else {
        println!("set DOZOR_BENCH_DATABASE_URL to benchmark PostgreSQL");
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let name = format!(
        "dozor_qbench_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    bench(
        "postgres",
        Some(format!("{}/{name}", admin.rsplit_once('/').unwrap().0)),
    )
    .await;
}
