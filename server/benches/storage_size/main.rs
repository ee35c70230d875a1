//! Bytes per sample on each backend for the same data (not a test).
//!
//!   DOZOR_BENCH_DATABASE_URL=postgres://…/postgres \
//!   DOZOR_BENCH_TIMESCALE_URL=postgres://…/postgres \
//!   cargo bench -p dozor-server --bench storage_size [-- recorded|synthetic]
//!
//! Two mixes, 2 days at 15 s each:
//! * recorded: a real node_exporter's 549 series on 2 hosts (12.6M
//!   samples), from a recording replayed past its end (`recorded.rs`);
//! * synthetic: 10 hosts × 80 series (9.2M samples) where every counter and
//!   gauge moves by a random amount at every sample (`synthetic.rs`).
//!
//! Rollups are brought up to date first; on TimescaleDB every chunk
//! (samples and aggregates) is then compressed, as the compression
//! policies leave chunks older than 2 days (samples) and 4 days
//! (aggregates), in a new session (which picks up the batch size dozor sets
//! for its role, as the policy jobs do). Next to them, the same samples in
//! a real Prometheus TSDB (`prometheus.rs`). Sizes are everything the store
//! keeps for samples: tables,
//! indexes, TOAST, rollups (or continuous aggregates); on SQLite the whole
//! file after a checkpoint.

mod prometheus;
mod recorded;
mod synthetic;

use dozor_common::SeriesBatch;
use dozor_server::storage::{self, OpenOptions, Store};
use recorded::Recording;
use sqlx::Connection;
use std::time::Instant;

const STEP: i64 = 15_000;
const SPAN: i64 = 2 * 86_400_000;
/// Agents send an hour at a time when they catch up.
const WINDOW: i64 = 3_600_000;

enum Mix {
    Recorded(Recording),
    Synthetic,
}

impl Mix {
    fn title(&self) -> String {
        match self {
            Mix::Recorded(r) => format!(
                "recorded node_exporter mix: {} hosts × {} series ({} scrapes replayed), 2 days at 15 s",
                self.hosts(),
                r.series_per_host(),
                r.scrapes()
            ),
            Mix::Synthetic => format!(
                "synthetic mix: {} hosts × {} series, 2 days at 15 s",
                self.hosts(),
                synthetic::SERIES_PER_HOST
            ),
        }
    }

    fn tag(&self) -> &'static str {
        match self {
            Mix::Recorded(_) => "recorded",
            Mix::Synthetic => "synthetic",
        }
    }

    fn hosts(&self) -> usize {
        match self {
            Mix::Recorded(_) => 2,
            Mix::Synthetic => 10,
        }
    }

    fn host(&self, h: usize, start: i64) -> Vec<SeriesBatch> {
        match self {
            Mix::Recorded(r) => r.host(h, start, SPAN),
            Mix::Synthetic => synthetic::host(h, start, SPAN, STEP),
        }
    }
}

async fn load(store: &Store, mix: &Mix, now: i64) -> u64 {
    let start = now - SPAN;
    let mut total = 0;
    for h in 0..mix.hosts() {
        let all = mix.host(h, start);
        let mut from = start;
        while from < now {
            let slice: Vec<SeriesBatch> = all
                .iter()
                .map(|s| {
                    let a = s.samples.partition_point(|p| p.ts_ms < from);
                    let b = s.samples.partition_point(|p| p.ts_ms < from + WINDOW);
                    let mut b2 = SeriesBatch::new(s.name.clone(), s.labels.clone(), Vec::new());
                    b2.samples = s.samples[a..b].to_vec();
                    b2
                })
                .filter(|s| !s.samples.is_empty())
                .collect();
            if !slice.is_empty() {
                total += store.append(&slice, now).await.unwrap().stored;
            }
            from += WINDOW;
        }
    }
    for _ in 0..200 {
        store.refresh_rollups(now).await.unwrap();
    }
    // Closed windows become chunks, as the maintenance loop leaves them
    // (SQLite and plain PostgreSQL; TimescaleDB keeps rows).
    while store.compact(now).await.unwrap() > 0 {}
    total
}

/// Bytes kept for (raw samples, rollups).
async fn sizes(c: &mut sqlx::PgConnection, timescale: bool) -> (i64, i64) {
    let sql = if timescale {
        "SELECT hypertable_size('samples')::int8,
                coalesce((SELECT sum(hypertable_size(format('%I.%I',
                    materialization_hypertable_schema, materialization_hypertable_name)::regclass))
                    FROM timescaledb_information.continuous_aggregates), 0)::int8"
    } else {
        "SELECT (coalesce((SELECT sum(pg_total_relation_size(inhrelid))
                    FROM pg_inherits WHERE inhparent = 'samples'::regclass), 0)
                 + pg_total_relation_size('sample_chunks'))::int8,
                (pg_total_relation_size('samples_5m') + pg_total_relation_size('samples_1h'))::int8"
    };
    sqlx::query_as(sql).fetch_one(c).await.unwrap()
}

/// Sizes as stored, and on TimescaleDB after compressing every chunk.
async fn pg_size(url: &str, timescale: bool) -> ((i64, i64), Option<(i64, i64)>) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    if !timescale {
        // Rows compaction deleted are dead tuples until a vacuum; steady
        // state reuses their space, so measure without them.
        sqlx::query("VACUUM FULL").execute(&mut c).await.unwrap();
        return (sizes(&mut c, timescale).await, None);
    }
    let before = sizes(&mut c, timescale).await;
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
    (before, Some(sizes(&mut c, timescale).await))
}

/// A new database per mix, left in place afterwards for a closer look
/// (the next run replaces it).
async fn fresh(admin: &str, tag: &str) -> String {
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    let name = format!("dozor_size_{tag}");
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

fn row(name: &str, (raw, rollups): (i64, i64), samples: u64) {
    let per = |b: i64| b as f64 / samples as f64;
    println!(
        "{name:<42} {:>8.1} MB {:>7.2} bytes/sample (raw {:.2} + rollups {:.2})",
        (raw + rollups) as f64 / 1e6,
        per(raw + rollups),
        per(raw),
        per(rollups)
    );
}

#[tokio::main]
async fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut mixes = Vec::new();
    if only.as_deref() != Some("synthetic") {
        mixes.push(Mix::Recorded(Recording::load()));
    }
    if only.as_deref() != Some("recorded") {
        mixes.push(Mix::Synthetic);
    }
    let now = dozor_server::clock::system_ms() / STEP * STEP;
    for mix in &mixes {
        println!("\n{}", mix.title());
        measure(mix, now).await;
    }
}

async fn measure(mix: &Mix, now: i64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("size.db");
    let store = storage::open(&path.display().to_string(), &OpenOptions::default())
        .await
        .unwrap();
    let t = Instant::now();
    let n = load(&store, mix, now).await;
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
    // Pages compaction freed are reused by new rows in steady state.
    sqlx::query("VACUUM").execute(&mut c).await.unwrap();
    let sqlite = std::fs::metadata(&path).unwrap().len() as i64;
    println!(
        "{:<42} {:>8.1} MB {:>7.2} bytes/sample",
        "SQLite (whole file)",
        sqlite as f64 / 1e6,
        sqlite as f64 / n as f64
    );
    let all: Vec<SeriesBatch> = (0..mix.hosts())
        .flat_map(|h| mix.host(h, now - SPAN))
        .collect();
    if let Some(p) = prometheus::size(all) {
        let per = |b: u64| b as f64 / n as f64;
        println!(
            "{:<42} {:>8.1} MB {:>7.2} bytes/sample (chunks {:.2}; 2 h blocks as backfilled)",
            "Prometheus 2.42 TSDB (promtool)",
            p.total as f64 / 1e6,
            per(p.total),
            per(p.chunks)
        );
    }
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
        let url = fresh(&admin, mix.tag()).await;
        let store = storage::open(&url, &OpenOptions::default()).await.unwrap();
        let t = Instant::now();
        let stored = load(&store, mix, now).await;
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
