//! Maintenance never holds SQLite's one writer for long: after a backfill,
//! rebuilding thousands of dirty rollup buckets and deleting expired
//! samples run as many short transactions, so ingest gets the writer in
//! between. (Before, one transaction rebuilt every dirty bucket: 36 s of
//! 503s after 400k backfilled samples.) The test checks the interleaving,
//! not a time: writes complete while the pass is still running.

use crate::support;

use dozor_common::{Labels, Sample, SeriesBatch};
use dozor_server::storage::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::*;

const MINUTE: i64 = 60_000;

fn labels(i: usize) -> Labels {
    [("i".to_string(), i.to_string())].into()
}

/// `series` series with one sample a minute over `[from, to)`.
async fn backfill(store: &Store, series: usize, from: i64, to: i64, now: i64) -> u64 {
    let mut total = 0;
    let mut t = from;
    while t < to {
        let end = (t + 60 * MINUTE).min(to);
        let batch: Vec<SeriesBatch> = (0..series)
            .map(|i| {
                let samples = (t..end)
                    .step_by(MINUTE as usize)
                    .map(|ts| Sample::new(ts, i as f64))
                    .collect();
                SeriesBatch::new("backfilled", labels(i), samples)
            })
            .collect();
        total += store.append(&batch, now).await.unwrap().stored;
        t = end;
    }
    total
}

/// Runs `pass` while appending fresh samples one after another; returns
/// how many appends completed before the pass did, and the longest wait.
async fn writes_during<F>(store: &Store, now: i64, pass: F) -> (usize, std::time::Duration)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let pass = tokio::spawn(async move {
        pass.await;
        flag.store(true, Ordering::SeqCst);
    });
    let mut during = 0;
    let mut longest = std::time::Duration::ZERO;
    let mut k = 0;
    while !done.load(Ordering::SeqCst) {
        let started = std::time::Instant::now();
        let fresh = SeriesBatch::new("fresh", Labels::new(), vec![Sample::new(now + k, 1.0)]);
        store.append(&[fresh], now).await.unwrap();
        longest = longest.max(started.elapsed());
        if !done.load(Ordering::SeqCst) {
            during += 1;
        }
        k += 1;
    }
    pass.await.unwrap();
    (during, longest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_after_a_backfill_and_retention_let_writes_through() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let now = now_ms();
    // The watermark reaches the present first, so what follows is late.
    store
        .append(
            &[SeriesBatch::new(
                "fresh",
                Labels::new(),
                vec![Sample::new(now - 1, 0.0)],
            )],
            now,
        )
        .await
        .unwrap();
    while store.refresh_rollups(now).await.unwrap() > 0 {}

    // Two days backfilled: 576 dirty 5-minute buckets, 115,200 samples.
    let n = backfill(&store, 40, now - 2 * 1440 * MINUTE, now - 10 * MINUTE, now).await;
    assert!(n > 100_000, "{n}");
    let cov = store.rollup_coverage().await.unwrap();
    assert!(cov.dirty.len() > 500, "{}", cov.dirty.len());

    let s = store.clone();
    let (during, longest) = writes_during(&store, now, async move {
        s.refresh_rollups(now).await.unwrap();
    })
    .await;
    println!("rollup pass: {during} writes completed during it, longest wait {longest:?}");
    assert!(during > 0, "writes waited for the whole rollup pass");
    assert!(
        store.rollup_coverage().await.unwrap().dirty.is_empty(),
        "one pass still rebuilds every dirty bucket, in steps"
    );

    // Retention: everything backfilled is now expired.
    let s = store.clone();
    let (during, longest) = writes_during(&store, now, async move {
        let out = s.apply_retention(now, 5 * MINUTE).await.unwrap();
        assert!(out.deleted_samples >= n, "{out:?}");
    })
    .await;
    println!("retention: {during} writes completed during it, longest wait {longest:?}");
    assert!(during > 0, "writes waited for the whole retention pass");
    let left = store
        .find_series(Some("backfilled"), &Default::default(), 100)
        .await
        .unwrap();
    for s in left {
        assert!(store.samples(s.id, 0, now).await.unwrap().is_empty());
    }
}
