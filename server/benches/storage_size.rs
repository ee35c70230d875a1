//! Bytes per sample on each backend for the same node_exporter-like data
//! (not a test).
//!
//!   DOZOR_BENCH_DATABASE_URL=postgres://…/postgres \
//!   DOZOR_BENCH_TIMESCALE_URL=postgres://…/postgres \
//!   cargo bench -p dozor-server --bench storage_size
//!
//! 10 hosts × 80 series, 2 days at 15 s (9.2M samples), the mix a host
//! exporter sends: constants (sizes, totals), integer counters (bytes,
//! packets), counters with two decimals (CPU seconds), two-decimal gauges
//! (load) and integer gauges in pages (memory). Rollups are brought up to
//! date first; on TimescaleDB every chunk (samples and aggregates) is then
//! compressed, as the compression policies leave chunks older than 2 days
//! (samples) and 4 days (aggregates). Sizes are everything the
//! store keeps for samples: tables, indexes, TOAST, rollups (or continuous
//! aggregates); on SQLite the whole file after a checkpoint.

use dozor_common::{Sample, SeriesBatch};
use dozor_server::storage::{self, OpenOptions, Store};
use sqlx::Connection;
use std::time::Instant;

const HOSTS: usize = 10;
const STEP: i64 = 15_000;
const SPAN: i64 = 2 * 86_400_000;

/// Deterministic noise.
fn rnd(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn host_series(h: usize, start: i64) -> Vec<SeriesBatch> {
    let n = (SPAN / STEP) as usize;
    let mut seed = 0x9e37_79b9_7f4a_7c15 ^ (h as u64 + 1);
    let mut out = Vec::new();
    let mut push = |name: String, values: Vec<f64>| {
        let labels = [("host".to_string(), format!("host-{h:02}"))].into();
        let samples = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Sample::new(start + i as i64 * STEP, v))
            .collect();
        out.push(SeriesBatch::new(name, labels, samples));
    };
    for k in 0..10 {
        let v = ((rnd(&mut seed) % 1_000_000) * 4096) as f64;
        push(format!("bench_constant_{k}"), vec![v; n]);
    }
    for k in 0..40 {
        let mut v = (rnd(&mut seed) % 1_000_000_000) as f64;
        let rate = rnd(&mut seed) % 50_000;
        push(
            format!("bench_counter_{k}_total"),
            (0..n)
                .map(|_| {
                    v += (rate + rnd(&mut seed) % (rate + 1)) as f64;
                    v
                })
                .collect(),
        );
    }
    for k in 0..10 {
        let mut cents: u64 = rnd(&mut seed) % 10_000_000;
        push(
            format!("bench_cpu_seconds_{k}_total"),
            (0..n)
                .map(|_| {
                    cents += 1400 + rnd(&mut seed) % 200;
                    cents as f64 / 100.0
                })
                .collect(),
        );
    }
    for k in 0..10 {
        let mut cents: i64 = 100 + (rnd(&mut seed) % 300) as i64;
        push(
            format!("bench_load_{k}"),
            (0..n)
                .map(|_| {
                    cents = (cents + (rnd(&mut seed) % 21) as i64 - 10).max(0);
                    cents as f64 / 100.0
                })
                .collect(),
        );
    }
    for k in 0..10 {
        let mut pages: i64 = 1_000_000 + (rnd(&mut seed) % 1_000_000) as i64;
        push(
            format!("bench_memory_{k}_bytes"),
            (0..n)
                .map(|_| {
                    pages = (pages + (rnd(&mut seed) % 201) as i64 - 100).max(0);
                    (pages * 4096) as f64
                })
                .collect(),
        );
    }
    out
}

async fn load(store: &Store, now: i64) -> u64 {
    let start = now - SPAN;
    let mut total = 0;
    for h in 0..HOSTS {
        // In slices, as agents send them.
        let all = host_series(h, start);
        let n = all[0].samples.len();
        for from in (0..n).step_by(240) {
            let slice: Vec<SeriesBatch> = all
                .iter()
                .map(|s| {
                    let mut b = s.clone();
                    b.samples = s.samples[from..(from + 240).min(n)].to_vec();
                    b
                })
                .collect();
            total += store.append(&slice, now).await.unwrap().stored;
        }
    }
    for _ in 0..200 {
        store.refresh_rollups(now).await.unwrap();
    }
    total
}

async fn pg_size(url: &str, timescale: bool) -> (i64, Option<i64>) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let sql = if timescale {
        "SELECT (hypertable_size('samples') + coalesce((SELECT sum(hypertable_size(format('%I.%I',
                 materialization_hypertable_schema, materialization_hypertable_name)::regclass))
                 FROM timescaledb_information.continuous_aggregates), 0))::int8"
    } else {
        "SELECT (coalesce((SELECT sum(pg_total_relation_size(inhrelid))
                 FROM pg_inherits WHERE inhparent = 'samples'::regclass), 0)
                 + pg_total_relation_size('samples_5m') + pg_total_relation_size('samples_1h'))::int8"
    };
    let before: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
    if !timescale {
        return (before, None);
    }
    // As the compression policy leaves them after 2 days: every chunk (a
    // store keeping 30 days has all but the last two compressed).
    sqlx::query(
        "SELECT compress_chunk(c, if_not_compressed => true)
         FROM (SELECT show_chunks('samples') c
               UNION ALL SELECT show_chunks(format('%I.%I', materialization_hypertable_schema,
                   materialization_hypertable_name)::regclass)
               FROM timescaledb_information.continuous_aggregates) chunks",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let after: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
    (before, Some(after))
}

async fn fresh(admin: &str) -> String {
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    let name = format!("dozor_size_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

fn row(name: &str, bytes: i64, samples: u64) {
    println!(
        "{name:<38} {:>10.1} MB {:>8.2} bytes/sample",
        bytes as f64 / 1e6,
        bytes as f64 / samples as f64
    );
}

#[tokio::main]
async fn main() {
    let now = dozor_server::clock::system_ms() / STEP * STEP;
    println!("{HOSTS} hosts × 80 series, 2 days at 15 s");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("size.db");
    let store = storage::open(&path.display().to_string(), &OpenOptions::default())
        .await
        .unwrap();
    let t = Instant::now();
    let n = load(&store, now).await;
    println!(
        "{n} samples (SQLite load {:.0} s)",
        t.elapsed().as_secs_f64()
    );
    drop(store);
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut c)
        .await
        .unwrap();
    let sqlite = std::fs::metadata(&path).unwrap().len() as i64;
    row("SQLite (whole file)", sqlite, n);
    for (var, label, timescale) in [
        (
            "DOZOR_BENCH_DATABASE_URL",
            "PostgreSQL (partitions + rollups)",
            false,
        ),
        ("DOZOR_BENCH_TIMESCALE_URL", "TimescaleDB", true),
    ] {
        let Ok(admin) = std::env::var(var) else {
            println!("{label}: set {var} to measure");
            continue;
        };
        let url = fresh(&admin).await;
        let store = storage::open(&url, &OpenOptions::default()).await.unwrap();
        let t = Instant::now();
        let stored = load(&store, now).await;
        println!("({label} load {:.0} s)", t.elapsed().as_secs_f64());
        let (before, after) = pg_size(&url, timescale).await;
        if timescale {
            row("TimescaleDB, uncompressed (+ aggregates)", before, stored);
            row(
                "TimescaleDB, compressed (+ aggregates)",
                after.unwrap(),
                stored,
            );
        } else {
            row(label, before, stored);
        }
    }
}
