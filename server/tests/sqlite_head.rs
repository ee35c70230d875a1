//! SQLite's ingest log and in-memory head (issue 23): an ingest writes its
//! new samples to `samples_log` as one row and keeps them in memory; a
//! flush moves them into `samples` later, sorted by series. These tests
//! check what a user relies on: the samples are read at once, re-sent
//! ones are told apart from conflicting ones wherever the first copy is,
//! nothing is lost across a restart, and no read misses a sample while a
//! flush moves it.

use crate::support;

use dozor_common::{Labels, Sample, SeriesBatch};
use dozor_server::storage::Store;
use sqlx::Connection;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::now_ms;

fn series(name: &str, samples: &[Sample]) -> SeriesBatch {
    let labels: Labels = [("job".to_string(), "head".to_string())].into();
    SeriesBatch::new(name, labels, samples.to_vec())
}

async fn id(store: &Store, name: &str) -> i64 {
    store
        .find_series(Some(name), &Labels::new(), 1)
        .await
        .unwrap()[0]
        .id
}

/// Rows in `samples` and in the log, read from the file itself.
async fn rows(dir: &tempfile::TempDir) -> (i64, i64) {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let samples = sqlx::query_scalar("SELECT count(*) FROM samples")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let log = sqlx::query_scalar("SELECT count(*) FROM samples_log")
        .fetch_one(&mut c)
        .await
        .unwrap();
    (samples, log)
}

fn outcome(o: &dozor_server::storage::AppendOutcome) -> (u64, u64, u64) {
    (o.stored, o.duplicate, o.conflicts)
}

#[tokio::test]
async fn logged_samples_are_read_deduplicated_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(&dir).await;
    let now = now_ms();
    let pts: Vec<Sample> = (0..10)
        .map(|i| Sample::new(now - 10_000 + i * 1_000, i as f64))
        .collect();
    let out = store.append(&[series("m", &pts)], now).await.unwrap();
    assert_eq!(outcome(&out), (10, 0, 0));
    // In the log, not yet in `samples`, and read all the same.
    assert_eq!(rows(&dir).await, (0, 1));
    let m = id(&store, "m").await;
    assert_eq!(store.samples(m, 0, now).await.unwrap(), pts);

    // Re-sent while in the head: duplicates; one changed value conflicts
    // and the first value stands.
    let mut changed = pts.clone();
    changed[3].value = 99.0;
    let out = store.append(&[series("m", &changed)], now).await.unwrap();
    assert_eq!(outcome(&out), (0, 9, 1));
    assert_eq!(store.samples(m, 0, now).await.unwrap(), pts);

    // A restart replays the log: nothing is lost, and re-sent samples are
    // still known.
    drop(store);
    let store = support::sqlite_store(&dir).await;
    assert_eq!(store.samples(m, 0, now).await.unwrap(), pts);
    let out = store.append(&[series("m", &changed)], now).await.unwrap();
    assert_eq!(outcome(&out), (0, 9, 1));

    // Maintenance drains the log into `samples`; re-sent samples are then
    // found there, and a new one is stored.
    store.refresh_rollups(now).await.unwrap();
    assert_eq!(rows(&dir).await, (10, 0));
    let next = Sample::new(now, 10.0);
    let mut again = changed.clone();
    again.push(next);
    let out = store.append(&[series("m", &again)], now).await.unwrap();
    assert_eq!(outcome(&out), (1, 9, 1));
    let mut want = pts.clone();
    want.push(next);
    assert_eq!(store.samples(m, 0, now).await.unwrap(), want);
    // A late sample between stored ones is new, and found again later.
    let late = Sample::new(now - 9_500, -1.0);
    let out = store.append(&[series("m", &[late])], now).await.unwrap();
    assert_eq!(outcome(&out), (1, 0, 0));
    let out = store.append(&[series("m", &[late])], now).await.unwrap();
    assert_eq!(outcome(&out), (0, 1, 0));
    want.insert(1, late);
    assert_eq!(store.samples(m, 0, now).await.unwrap(), want);
    // Repeats inside one request: the first stands.
    let twice = [Sample::new(now + 1, 1.0), Sample::new(now + 1, 2.0)];
    let out = store.append(&[series("m", &twice)], now).await.unwrap();
    assert_eq!(outcome(&out), (1, 0, 1));
    let got = store.samples(m, now + 1, now + 1).await.unwrap();
    assert_eq!(got, vec![Sample::new(now + 1, 1.0)]);
}

/// A reader never misses an acknowledged sample, whether it is in the
/// head, in `samples`, or being moved from one to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_see_every_acknowledged_sample_while_flushes_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(&dir).await;
    let now = now_ms();
    let acked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, acked) = (store.clone(), acked.clone());
        tokio::spawn(async move {
            for k in 0..400 {
                let pts: Vec<Sample> = (0..5)
                    .map(|j| Sample::new(now + (k * 5 + j) as i64, 1.0))
                    .collect();
                let out = store.append(&[series("r", &pts)], now).await.unwrap();
                assert_eq!(out.stored, 5);
                acked.fetch_add(5, Ordering::SeqCst);
            }
        })
    };
    let flusher = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut passes = 0;
            while !done.load(Ordering::SeqCst) {
                store.refresh_rollups(now).await.unwrap();
                passes += 1;
                tokio::task::yield_now().await;
            }
            passes
        })
    };
    while store
        .find_series(Some("r"), &Labels::new(), 1)
        .await
        .unwrap()
        .is_empty()
    {
        tokio::task::yield_now().await;
    }
    let r = id(&store, "r").await;
    let mut reads = 0;
    loop {
        let before = acked.load(Ordering::SeqCst);
        let got = store.samples(r, now, now + 10_000).await.unwrap();
        assert!(
            got.len() >= before,
            "read {} of {before} acknowledged",
            got.len()
        );
        assert!(
            got.windows(2).all(|w| w[0].ts_ms < w[1].ts_ms),
            "in order, once each"
        );
        reads += 1;
        if before == 2_000 {
            break;
        }
    }
    writer.await.unwrap();
    done.store(true, Ordering::SeqCst);
    let passes = flusher.await.unwrap();
    assert!(passes > 10 && reads > 10, "{passes} flushes, {reads} reads");
    assert_eq!(
        store.samples(r, now, now + 10_000).await.unwrap().len(),
        2_000
    );
}

/// Past a size bound the background flush moves the log on its own, and
/// the head then holds less than the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_head_is_flushed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(&dir).await;
    let now = now_ms();
    // 600,000 samples, past the 524,288 that start a flush: 300 requests of
    // 2,000 series with one sample each, Prometheus's shape.
    let names: Vec<String> = (0..2_000).map(|i| format!("s{i}")).collect();
    for k in 0..300 {
        let batch: Vec<SeriesBatch> = names
            .iter()
            .map(|n| series(n, &[Sample::new(now - 300_000 + k, 1.0)]))
            .collect();
        assert_eq!(store.append(&batch, now).await.unwrap().stored, 2_000);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (samples, log) = rows(&dir).await;
        // What is left in the head is under the bound.
        if samples > 600_000 - 524_288 {
            assert!(log < 300, "{log} log rows left");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no flush: {samples} rows"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let s0 = id(&store, "s0").await;
    assert_eq!(store.samples(s0, 0, now).await.unwrap().len(), 300);
}

/// A log row damaged on disk (not whole samples) is dropped with an
/// error, never a panic, and never blocks the rows after it: on replay,
/// and when the log is filed.
#[tokio::test]
async fn a_damaged_log_row_blocks_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(&dir).await;
    let now = now_ms();
    let pts = [Sample::new(now - 2_000, 1.0), Sample::new(now - 1_000, 2.0)];
    store.append(&[series("a", &pts)], now).await.unwrap();
    store.append(&[series("b", &pts)], now).await.unwrap();
    let (a, b) = (id(&store, "a").await, id(&store, "b").await);
    drop(store);
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "UPDATE samples_log SET body = x'0102' WHERE seq = (SELECT min(seq) FROM samples_log)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    drop(c);
    let store = support::sqlite_store(&dir).await;
    assert_eq!(store.samples(b, 0, now).await.unwrap(), pts);
    assert!(store.samples(a, 0, now).await.unwrap().is_empty());
    store.refresh_rollups(now).await.unwrap();
    assert_eq!(rows(&dir).await, (2, 0));
    assert_eq!(store.samples(b, 0, now).await.unwrap(), pts);
    // The series takes new samples afterwards.
    let out = store.append(&[series("a", &pts)], now).await.unwrap();
    assert_eq!(out.stored, 2);
}
