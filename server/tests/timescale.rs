//! TimescaleDB's own behaviour dozor must not be caught out by:
//! - servers starting at the same time on one database: every start
//!   succeeds (migrations, layout, retention policies), and a start that
//!   finds the policies already right leaves them (and their job ids and
//!   history) as they are;
//! - the extension's refresh policies materialise only their window (the
//!   last 3 days): after a 5-day backfill and a policy run, queries served
//!   from the continuous aggregates still equal the raw evaluation.

mod support;

use dozor_common::{Sample, SeriesBatch};
use dozor_server::promql::{Limits, Range, Value};
use sqlx::Connection;
use support::*;

const DAY_MS: i64 = 86_400_000;

/// (job id, table, drop_after in days) of every retention policy.
async fn retention_jobs(db: &TestDb) -> Vec<(i32, String, f64)> {
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query_as(
        "SELECT job_id, hypertable_name::text,
                EXTRACT(epoch FROM (config->>'drop_after')::interval)::float8 / 86400
         FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' ORDER BY job_id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

/// `n` stores opened at once on `url`, each applying `days` of retention
/// as a starting server does.
async fn start_together(url: &str, n: usize, days: i64) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let url = url.to_string();
        set.spawn(async move {
            let store = dozor_server::storage::open(&url, &open_options()).await?;
            store.set_retention(days * DAY_MS).await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().expect("every server starts");
    }
}

#[tokio::test]
async fn servers_starting_together_all_start_and_keep_right_jobs() {
    let Some(db) = timescale_database().await else {
        return;
    };
    // A fresh database: four servers migrate and set retention at once.
    start_together(&db.url, 4, 30).await;
    let jobs = retention_jobs(&db).await;
    assert_eq!(jobs.len(), 3, "one policy per table: {jobs:?}");
    assert!(jobs.iter().all(|j| j.2 == 30.0), "{jobs:?}");
    // Restarts with the same retention change nothing.
    for _ in 0..5 {
        start_together(&db.url, 4, 30).await;
    }
    assert_eq!(retention_jobs(&db).await, jobs, "job ids and history kept");
    // A new retention: still one policy per table, saying it.
    start_together(&db.url, 4, 90).await;
    let changed = retention_jobs(&db).await;
    assert_eq!(changed.len(), 3, "{changed:?}");
    assert!(changed.iter().all(|j| j.2 == 90.0), "{changed:?}");
}

/// The values of a range query's only series, by step.
fn values(v: Value) -> Vec<(i64, f64)> {
    match v {
        Value::Matrix(mut m) if m.len() == 1 => m.remove(0).points,
        other => panic!("one series expected, got {other:?}"),
    }
}

#[tokio::test]
async fn refresh_policies_never_make_reads_miss_a_backfill() {
    let Some(db) = timescale_database().await else {
        return;
    };
    let store = pg_store(&db).await;
    const HOUR: i64 = 3_600_000;
    let now = now_ms();
    let h0 = (now - 5 * 24 * HOUR).div_euclid(HOUR) * HOUR;
    let samples: Vec<Sample> = (0..)
        .map(|k| Sample::new(h0 + k * 60_000, (k % 17) as f64))
        .take_while(|s| s.ts_ms < now - 60_000)
        .collect();
    let labels = [("host".to_string(), "a".to_string())].into();
    store
        .append(&[SeriesBatch::new("m", labels, samples)], now)
        .await
        .unwrap();
    // What the extension's jobs would do on their schedule, done now.
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let jobs: Vec<i32> = sqlx::query_scalar(
        "SELECT job_id FROM timescaledb_information.jobs
         WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY job_id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(jobs.len(), 2);
    for j in &jobs {
        sqlx::query(&format!("CALL run_job({j})"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let engine = dozor_server::storage::engine(&store, Limits::default());
    let r = Range {
        start_ms: h0 + 2 * HOUR,
        end_ms: (now - 2 * HOUR).div_euclid(HOUR) * HOUR,
        step_ms: HOUR,
    };
    let q = "avg_over_time(m[1h])";
    let raw = values(engine.without_rollups().range(q, r).await.unwrap());
    assert_eq!(
        values(engine.range(q, r).await.unwrap()),
        raw,
        "before maintenance"
    );
    for _ in 0..20 {
        store.refresh_rollups(now).await.unwrap();
    }
    for j in &jobs {
        sqlx::query(&format!("CALL run_job({j})"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let before = engine
        .stats()
        .rollup_buckets_loaded
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        values(engine.range(q, r).await.unwrap()),
        raw,
        "after maintenance"
    );
    let read = engine
        .stats()
        .rollup_buckets_loaded
        .load(std::sync::atomic::Ordering::Relaxed)
        - before;
    assert!(
        read as usize >= raw.len(),
        "served from the aggregates: {read}"
    );
}
