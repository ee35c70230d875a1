//! TimescaleDB's own behaviour dozor must not be caught out by:
//! - servers starting at the same time on one database: every start
//!   succeeds (migrations, layout, retention policies), and a start that
//!   finds the policies already right leaves them (and their job ids and
//!   history) as they are;
//! - the extension's refresh policies materialise only their window (the
//!   last 3 days): after a 5-day backfill and a policy run, queries served
//!   from the continuous aggregates still equal the raw evaluation.

use crate::support;

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

    // Everything compressed (samples and aggregates, as the policies leave
    // old chunks), then a late sample in an old hour: still right, and
    // right from the aggregates once maintenance refreshed them.
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
    let late = r.start_ms + 30 * 60_000 + 7;
    let labels = [("host".to_string(), "a".to_string())].into();
    store
        .append(
            &[SeriesBatch::new("m", labels, vec![Sample::new(late, 1e6)])],
            now,
        )
        .await
        .unwrap();
    let raw = values(engine.without_rollups().range(q, r).await.unwrap());
    assert_eq!(
        values(engine.range(q, r).await.unwrap()),
        raw,
        "late, before refresh"
    );
    store.refresh_rollups(now).await.unwrap();
    let loaded = || {
        engine
            .stats()
            .rollup_buckets_loaded
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = loaded();
    assert_eq!(
        values(engine.range(q, r).await.unwrap()),
        raw,
        "late, refreshed"
    );
    let read = loaded() - before;
    assert!(
        read as usize >= raw.len(),
        "compressed aggregates serve it: {read}"
    );
}

/// A database background job recorded as failed is reported: in
/// `/metrics` and on the Agents page. The failure record is written as the
/// extension's scheduler writes it (and as PostgreSQL 15.20 builds record
/// TimescaleDB's own policies although they work): whether the scheduler
/// gets a worker at all in a cluster full of test databases is not
/// deterministic, and what is tested is dozor's reading of the record.
#[tokio::test]
async fn failing_background_jobs_are_reported() {
    let Some(db) = timescale_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, Some(&db.url), |_| {}).await;
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "CREATE PROCEDURE dozor_test_fails(job_id int, config jsonb) LANGUAGE plpgsql
         AS $$ BEGIN RAISE EXCEPTION 'this job always fails'; END $$",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let job: i32 = sqlx::query_scalar(
        "SELECT add_job('dozor_test_fails', INTERVAL '1 day', initial_start => now() + INTERVAL '1 day')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO _timescaledb_internal.bgw_job_stat (job_id, last_start, last_finish,
             next_start, last_successful_finish, last_run_success, total_runs, total_duration,
             total_duration_failures, total_successes, total_failures, total_crashes,
             consecutive_failures, consecutive_crashes)
         VALUES ($1, now() - INTERVAL '1 minute', now(), now() + INTERVAL '1 day', '-infinity',
                 false, 1, INTERVAL '1 second', INTERVAL '1 second', 0, 1, 0, 1, 0)
         ON CONFLICT (job_id) DO UPDATE SET last_start = EXCLUDED.last_start,
             last_finish = EXCLUDED.last_finish, last_run_success = false, total_runs = 1,
             total_failures = 1, consecutive_failures = 1",
    )
    .bind(job)
    .execute(&mut c)
    .await
    .unwrap();
    let metrics = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = format!("{{job_id=\"{job}\",proc=\"dozor_test_fails\",table=\"\"}}");
    assert!(
        metrics.contains(&format!("dozor_storage_job_failures_total{labels} 1"))
            && metrics.contains(&format!("dozor_storage_job_last_run_failed{labels} 1")),
        "{metrics}"
    );
    // The extension's own jobs are listed too, not failed.
    assert!(metrics.contains("proc=\"policy_retention\",table=\"samples\"} 0"));
    let admin = web_session(&server).await;
    let page = support::web::get(&server.url(), "/agents", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("background job {job} (dozor_test_fails")),
        "the Agents page says so"
    );
    server.shutdown().await;
}

/// Compressed data is laid out for size (migration 0020): the compression
/// policies keep a day of a 10 s series in one batch (the extension's
/// default is 1,000 rows, six to nine batches a day, each with its own
/// headers), and the aggregates are compressed ordered by series, then
/// bucket (the extension's default for them is bucket first, which mixes
/// series in every batch). Reads stay exact on the compressed data.
#[tokio::test]
async fn compression_keeps_a_day_per_batch_and_orders_aggregates_by_series() {
    let Some(db) = timescale_database().await else {
        return;
    };
    let store = pg_store(&db).await;
    let now = now_ms();
    let day0 = (now - 6 * DAY_MS).div_euclid(DAY_MS) * DAY_MS;
    let batches: Vec<SeriesBatch> = (0..5)
        .map(|s| {
            let labels = [("host".to_string(), format!("h{s}"))].into();
            let samples = (0..8_640)
                .map(|k| Sample::new(day0 + 1 + k * 10_000, ((k * (s + 3)) % 101) as f64 * 0.5))
                .collect();
            SeriesBatch::new("m", labels, samples)
        })
        .collect();
    store.append(&batches, now).await.unwrap();
    for _ in 0..20 {
        store.refresh_rollups(now).await.unwrap();
    }
    // A new session, as the policy jobs' workers are: the batch limit is a
    // session default of dozor's role in this database.
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let limit: String = sqlx::query_scalar("SHOW timescaledb.compression_batch_size_limit")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(limit, "10000");
    let jobs: Vec<i32> = sqlx::query_scalar(
        "SELECT job_id FROM timescaledb_information.jobs
         WHERE proc_name = 'policy_compression' ORDER BY job_id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(jobs.len(), 3, "samples and both aggregates");
    for j in &jobs {
        sqlx::query(&format!("CALL run_job({j})"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let samples_day: (i64, i64) = sqlx::query_as(
        "SELECT s.numrows_pre_compression, s.numrows_post_compression
         FROM _timescaledb_catalog.compression_chunk_size s
         JOIN _timescaledb_catalog.chunk ch ON ch.id = s.chunk_id
         JOIN _timescaledb_catalog.hypertable h ON h.id = ch.hypertable_id
         WHERE h.table_name = 'samples'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(samples_day, (5 * 8_640, 5), "one batch per series and day");
    let orders: Vec<String> = sqlx::query_scalar(
        "SELECT cs.orderby::text FROM _timescaledb_catalog.compression_settings cs
         JOIN _timescaledb_catalog.chunk ch
           ON format('%I.%I', ch.schema_name, ch.table_name)::regclass = cs.relid
         JOIN timescaledb_information.continuous_aggregates a
           ON a.materialization_hypertable_name =
              (SELECT table_name FROM _timescaledb_catalog.hypertable WHERE id = ch.hypertable_id)
         WHERE cs.compress_relid IS NOT NULL",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(
        !orders.is_empty(),
        "the aggregates' old chunks are compressed"
    );
    assert!(
        orders.iter().all(|o| o == "{series_id,bucket}"),
        "{orders:?}"
    );
    let engine = dozor_server::storage::engine(&store, Limits::default());
    let r = Range {
        start_ms: day0 + 3_600_000,
        end_ms: day0 + DAY_MS - 3_600_000,
        step_ms: 3_600_000,
    };
    for q in [
        "sum(avg_over_time(m[1h]))",
        "max(max_over_time(m[5m]))",
        "sum(rate(m[10m]))",
    ] {
        let raw = values(engine.without_rollups().range(q, r).await.unwrap());
        assert!(!raw.is_empty(), "{q}");
        assert_eq!(values(engine.range(q, r).await.unwrap()), raw, "{q}");
    }
}
