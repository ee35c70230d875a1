//! Maintenance never holds SQLite's one writer for long: after a backfill,
//! rebuilding thousands of dirty rollup buckets and deleting expired
//! samples run as many short transactions, so ingest gets the writer in
//! between. (Before, one transaction rebuilt every dirty bucket: 36 s of
//! 503s after 400k backfilled samples.) The test checks the interleaving,
//! not a time: writes complete while the pass is still running.

use crate::support;

use dozor_common::{Labels, Sample, SeriesBatch};
use dozor_server::storage::rollup::Resolution;
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

/// One 5-minute bucket holding many series' samples (as fast ingest
/// makes: 100k samples/s is 30 million rows a bucket) is rolled up a batch
/// of series at a time: writes get the writer in between, and every
/// series' bucket is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowded_bucket_is_rolled_up_in_batches_of_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let now = now_ms();
    let bucket = rollup_bucket(now - 20 * MINUTE);
    while store.refresh_rollups(now - 30 * MINUTE).await.unwrap() > 0 {}
    // 3,000 series × 100 samples inside one bucket.
    let (series, per) = (3000usize, 100i64);
    let batch: Vec<SeriesBatch> = (0..series)
        .map(|i| {
            let samples = (0..per)
                .map(|k| Sample::new(bucket + 1 + k * 2_000, k as f64))
                .collect();
            SeriesBatch::new("crowded", labels(i), samples)
        })
        .collect();
    for part in batch.chunks(500) {
        store.append(part, now).await.unwrap();
    }
    let found = store
        .find_series(Some("crowded"), &Default::default(), series + 1)
        .await
        .unwrap();
    assert_eq!(found.len(), series);
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    // A reader watches the bucket's rollups appear, the first series by
    // id and then the last: batches go in id order and commit apart, so
    // it sees the first done and the last not. With one transaction for
    // the bucket, once the first is done so is the last.
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (store, watching) = (store.clone(), watching.clone());
        let (first, last) = (*ids.iter().min().unwrap(), *ids.iter().max().unwrap());
        tokio::spawn(async move {
            let done = |id| {
                let store = store.clone();
                async move {
                    !store
                        .rollups(id, Resolution::FiveMinutes, bucket, bucket)
                        .await
                        .unwrap()
                        .is_empty()
                }
            };
            let mut partial = 0;
            while watching.load(Ordering::SeqCst) {
                if done(first).await && !done(last).await {
                    partial += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            partial
        })
    };
    let s = store.clone();
    let (during, longest) = writes_during(&store, now, async move {
        while s.refresh_rollups(now).await.unwrap() > 0 {}
    })
    .await;
    watching.store(false, Ordering::SeqCst);
    let partial = watcher.await.unwrap();
    println!(
        "crowded bucket: {during} writes completed during its rollup, longest wait {longest:?}; a reader saw it partly done {partial} times"
    );
    assert!(during > 0, "writes waited for the whole bucket");
    assert!(partial > 0, "the bucket was rolled up in one transaction");
    let mut got = store
        .rollups_many(&ids, Resolution::FiveMinutes, bucket, bucket)
        .await
        .unwrap();
    for id in &ids {
        let r = got.remove(id).unwrap_or_default();
        assert_eq!(r.len(), 1, "series {id}: {r:?}");
        assert_eq!((r[0].count, r[0].max), (per, (per - 1) as f64));
    }
    assert!(store.rollup_coverage().await.unwrap().watermark_ms > bucket);
}

/// The 5-minute bucket holding `ts` (buckets are left-open: (b, b + 5m]).
fn rollup_bucket(ts: i64) -> i64 {
    (ts - 1).div_euclid(5 * MINUTE) * 5 * MINUTE
}
