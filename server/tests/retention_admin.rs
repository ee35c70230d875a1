//! An admin command run against a live server's store (`agents list`,
//! `api-token create`, …) opens that store with its own, default
//! `--retention`. It must not change the retention the server keeps: on
//! TimescaleDB it used to rewrite the retention policies to 30 days, and
//! the next policy run dropped everything older, on a server started with
//! `--retention 90d`. Checked on every backend.

use crate::support;

use dozor_common::{Labels, Sample, SeriesBatch};
use std::time::Duration;
use support::*;

const DAY_MS: i64 = 86_400_000;

async fn retention_jobs(db: &TestDb) -> Vec<(i32, f64)> {
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query_as(
        "SELECT job_id, EXTRACT(epoch FROM (config->>'drop_after')::interval)::float8
         FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' ORDER BY job_id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

use sqlx::Connection;

async fn admin_commands_leave_the_servers_retention_alone(db: Option<&TestDb>, timescale: bool) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.map(|d| d.url.clone());
    let server = spawn_server_with(&dir, url.as_deref(), |c| {
        c.retention = Duration::from_secs(90 * 86_400);
    })
    .await;
    let now = now_ms();
    let old = SeriesBatch::new(
        "kept",
        Labels::new(),
        vec![Sample::new(now - 40 * DAY_MS, 1.0), Sample::new(now, 2.0)],
    );
    server.store.append(&[old], now).await.unwrap();

    // The admin command, while the server runs: its own config, with the
    // default retention of 30 days.
    let mut admin = dozor_server::Config::for_data_dir(dir.path().join("data"));
    admin.database_url = url.clone();
    assert_eq!(admin.retention, Duration::from_secs(30 * 86_400));
    let store = dozor_server::app::open_store(&admin).await.unwrap();
    store.list_agents().await.unwrap();
    drop(store);

    // Retention as the running server applies it.
    server
        .store
        .apply_retention(now, 90 * DAY_MS)
        .await
        .unwrap();
    if timescale {
        let db = db.unwrap();
        let jobs = retention_jobs(db).await;
        assert_eq!(jobs.len(), 3, "samples and both rollups: {jobs:?}");
        for (id, secs) in &jobs {
            assert_eq!(*secs, 90.0 * 86_400.0, "job {id} keeps 90 days");
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(&format!("CALL run_job({id})"))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
    let series = server
        .store
        .find_series(Some("kept"), &Default::default(), 10)
        .await
        .unwrap();
    let samples = server
        .store
        .samples(series[0].id, now - 50 * DAY_MS, now)
        .await
        .unwrap();
    assert_eq!(
        samples.len(),
        2,
        "the 40-day-old sample is kept: {samples:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sqlite() {
    admin_commands_leave_the_servers_retention_alone(None, false).await;
}

#[tokio::test]
async fn postgres() {
    let Some(db) = pg_database().await else {
        return;
    };
    admin_commands_leave_the_servers_retention_alone(Some(&db), false).await;
}

#[tokio::test]
async fn timescaledb() {
    let Some(db) = timescale_database().await else {
        return;
    };
    admin_commands_leave_the_servers_retention_alone(Some(&db), true).await;
}
