//! Compaction into chunks (issue 23), as part of the storage contract:
//! whatever a store keeps as chunks must read, deduplicate, roll up and
//! expire exactly as rows do. Stores that keep rows (TimescaleDB) run the
//! same tests; their `compact` does nothing.

use crate::support;

use dozor_common::model::{is_stale, stale_nan};
use dozor_common::{Labels, Sample, SeriesBatch};
use dozor_server::storage::compaction::WINDOW_MS;
use dozor_server::storage::rollup::Resolution;
use dozor_server::storage::{RollupPoint, Store};
use support::now_ms;

const HOUR: i64 = 3_600_000;

fn batch(host: &str, samples: &[(i64, f64)]) -> SeriesBatch {
    SeriesBatch::new(
        "c",
        [("host".to_string(), host.to_string())]
            .into_iter()
            .collect(),
        samples.iter().map(|(t, v)| Sample::new(*t, *v)).collect(),
    )
}

/// Bit-exact, so the stale marker and NaN are told apart.
fn same(got: &[Sample], want: &[(i64, f64)]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.ts_ms == w.0
                && (g.value.to_bits() == w.1.to_bits()
                    || (g.value.is_nan() && w.1.is_nan() && is_stale(g.value) == is_stale(w.1)))
        })
}

async fn id(store: &Store, host: &str) -> i64 {
    let l: Labels = [("host".to_string(), host.to_string())]
        .into_iter()
        .collect();
    store.find_series(Some("c"), &l, 1).await.unwrap()[0].id
}

/// Does the store keep chunks? SQLite and plain PostgreSQL do;
/// TimescaleDB keeps rows and compresses them itself.
fn chunked(store: &Store) -> bool {
    !store.describe().contains("timescaledb")
}

/// Does retention cut at the sample? PostgreSQL drops whole partitions
/// (days) of rows, SQLite deletes rows and trims chunks.
fn exact_retention(store: &Store) -> bool {
    store.describe().starts_with("sqlite")
}

/// Ten hours every 20 s for host a (with NaN, a stale marker and
/// infinities), and host b only at the very edges of its windows.
type Points = Vec<(i64, f64)>;

fn data(h0: i64) -> (Points, Points) {
    let a: Vec<(i64, f64)> = (0..1800)
        .map(|i| {
            let t = h0 + i * 20_000;
            let v = match i {
                100 => f64::NAN,
                101 => stale_nan(),
                200 => f64::INFINITY,
                230 => f64::NEG_INFINITY,
                _ => ((i * 7) % 23) as f64 * 0.5,
            };
            (t, v)
        })
        .collect();
    let b = vec![
        (h0 + 1, 1.0),
        (h0 + WINDOW_MS, 2.0),
        (h0 + 2 * WINDOW_MS, 3.0),
    ];
    (a, b)
}

async fn reads_dedup_and_backfill_across_chunks(store: Store) {
    let now = now_ms();
    // Aligned to a window so host b's samples sit on window edges.
    let h0 = (now - 12 * HOUR).div_euclid(WINDOW_MS) * WINDOW_MS;
    let (a, b) = data(h0);
    let out = store
        .append(&[batch("a", &a), batch("b", &b)], now)
        .await
        .unwrap();
    assert_eq!(out.stored, (a.len() + b.len()) as u64);
    let moved = store.compact(now).await.unwrap();
    assert_eq!(
        moved > 0,
        chunked(&store),
        "{moved} series windows compacted"
    );
    assert_eq!(store.compact(now).await.unwrap(), 0, "nothing left");
    let (ia, ib) = (id(&store, "a").await, id(&store, "b").await);

    let all = store.samples(ia, 0, now).await.unwrap();
    assert!(same(&all, &a), "every sample back, bit for bit");
    // A range inside one chunk, and one across a window edge.
    for (lo, hi) in [
        (h0 + 3 * HOUR + 1, h0 + 3 * HOUR + 60_000),
        (h0 + 2 * HOUR - 40_000, h0 + 2 * HOUR + 40_000),
    ] {
        let want: Vec<(i64, f64)> = a
            .iter()
            .copied()
            .filter(|s| s.0 >= lo && s.0 <= hi)
            .collect();
        assert!(
            same(&store.samples(ia, lo, hi).await.unwrap(), &want),
            "{lo}..{hi}"
        );
    }
    let many = store
        .samples_many(&[ia, ib], h0, h0 + WINDOW_MS)
        .await
        .unwrap();
    assert_eq!(
        many[&ib],
        vec![Sample::new(h0 + 1, 1.0), Sample::new(h0 + WINDOW_MS, 2.0)]
    );

    // Series with samples in a range: exact inside a chunk, not by overlap.
    let inside = store
        .series_with_samples(&[ia, ib], h0 + 10_000, h0 + WINDOW_MS - 10_000)
        .await
        .unwrap();
    assert!(inside.contains(&ia) && !inside.contains(&ib), "{inside:?}");

    // Re-sent and conflicting samples in compacted windows.
    let again = store.append(&[batch("a", &a[..50])], now).await.unwrap();
    assert_eq!((again.stored, again.duplicate, again.conflicts), (0, 50, 0));
    let stale_again = store
        .append(&[batch("a", &a[100..102])], now)
        .await
        .unwrap();
    assert_eq!(
        (stale_again.stored, stale_again.duplicate),
        (0, 2),
        "NaN and the stale marker"
    );
    let changed = store
        .append(&[batch("a", &[(a[10].0, 1e9), (a[10].0 + 1, 5.0)])], now)
        .await
        .unwrap();
    assert_eq!(
        (changed.stored, changed.conflicts, changed.duplicate),
        (1, 1, 0)
    );
    // The backfilled sample reads back before and after the next step
    // merges it into its chunk, and is then a duplicate like any other.
    let mut want = a.clone();
    want.push((a[10].0 + 1, 5.0));
    want.sort_by_key(|s| s.0);
    assert!(same(&store.samples(ia, 0, now).await.unwrap(), &want));
    assert_eq!(store.compact(now).await.unwrap() > 0, chunked(&store));
    assert!(same(&store.samples(ia, 0, now).await.unwrap(), &want));
    let dup = store
        .append(&[batch("a", &[(a[10].0 + 1, 5.0)])], now)
        .await
        .unwrap();
    assert_eq!((dup.stored, dup.duplicate), (0, 1));
}

/// Aggregates computed here from the samples: the expected rollups.
fn expected(samples: &[(i64, f64)], from: i64, to: i64) -> Vec<(i64, i64, i64, f64, f64)> {
    let mut out: Vec<(i64, i64, i64, f64, f64)> = Vec::new();
    for &(t, v) in samples
        .iter()
        .filter(|s| s.0 > from && s.0 <= to && !is_stale(s.1))
    {
        let b = (t - 1).div_euclid(300_000) * 300_000;
        if out.last().is_none_or(|p| p.0 != b) {
            out.push((b, 0, 0, f64::NEG_INFINITY, 0.0));
        }
        let p = out.last_mut().unwrap();
        if v.is_nan() {
            p.2 += 1;
        } else {
            p.1 += 1;
            p.3 = p.3.max(v);
            p.4 += v;
        }
    }
    out
}

fn summary(points: &[RollupPoint]) -> Vec<(i64, i64, i64, f64, f64)> {
    points
        .iter()
        .map(|p| {
            let (max, sum) = if p.count > 0 {
                (p.max, p.sum)
            } else {
                (f64::NEG_INFINITY, 0.0)
            };
            (p.bucket_ms, p.count, p.nan, max, sum)
        })
        .collect()
}

async fn rollups_and_retention_over_chunks(store: Store) {
    let now = now_ms();
    let h0 = (now - 12 * HOUR).div_euclid(WINDOW_MS) * WINDOW_MS;
    let (a, _) = data(h0);
    store.append(&[batch("a", &a)], now).await.unwrap();
    // Compacted before any rollup pass: the rollups are built from chunks.
    store.compact(now).await.unwrap();
    store.refresh_rollups(now).await.unwrap();
    let ia = id(&store, "a").await;
    let five = store
        .rollups(ia, Resolution::FiveMinutes, h0, h0 + 11 * HOUR)
        .await
        .unwrap();
    assert_eq!(summary(&five), expected(&a, h0, h0 + 11 * HOUR));
    // A late sample into a compacted, rolled-up bucket.
    let late = (h0 + 30 * 60_000 + 1, 1000.0);
    store.append(&[batch("a", &[late])], now).await.unwrap();
    store.compact(now).await.unwrap();
    store.refresh_rollups(now).await.unwrap();
    let mut with_late = a.clone();
    with_late.push(late);
    with_late.sort_by_key(|s| s.0);
    let five = store
        .rollups(ia, Resolution::FiveMinutes, h0, h0 + 11 * HOUR)
        .await
        .unwrap();
    assert_eq!(summary(&five), expected(&with_late, h0, h0 + 11 * HOUR));
    let hour = store
        .rollups(ia, Resolution::OneHour, h0, h0 + 2 * HOUR)
        .await
        .unwrap();
    assert_eq!((hour[0].bucket_ms, hour[0].max), (h0, 1000.0));

    // Retention with its cutoff inside a chunk keeps exactly the samples
    // after it, and counts the ones it deleted.
    let cutoff = h0 + 3 * HOUR + 30 * 60_000 + 1;
    let before = with_late.iter().filter(|s| s.0 < cutoff).count() as u64;
    let out = store.apply_retention(now, now - cutoff).await.unwrap();
    if exact_retention(&store) {
        assert_eq!(out.deleted_samples, before);
    }
    let left: Vec<(i64, f64)> = with_late
        .iter()
        .copied()
        .filter(|s| s.0 >= cutoff)
        .collect();
    let got = store.samples(ia, 0, now).await.unwrap();
    if exact_retention(&store) {
        assert!(
            same(&got, &left),
            "{} left, {} expected",
            got.len(),
            left.len()
        );
    } else {
        // Whole days go: nothing after the cutoff, nothing a day before it.
        assert!(got.iter().all(|s| s.ts_ms >= cutoff - 24 * HOUR));
        assert!(same(&got[got.len() - left.len()..], &left));
    }
}

/// Backfill written while compaction walks the same windows: every
/// sample is read back exactly once, and re-sent ones count as
/// duplicates whether they were rows or chunks by then.
async fn backfill_during_compaction_loses_nothing(store: Store) {
    let now = now_ms();
    let h0 = (now - 10 * HOUR).div_euclid(WINDOW_MS) * WINDOW_MS;
    let hosts: Vec<String> = (0..120).map(|i| format!("h{i}")).collect();
    let first: Vec<(i64, f64)> = (0..480).map(|i| (h0 + 1 + i * 60_000, i as f64)).collect();
    let late: Vec<(i64, f64)> = first.iter().map(|(t, v)| (t + 30_000, -v - 0.5)).collect();
    let all: Vec<SeriesBatch> = hosts.iter().map(|h| batch(h, &first)).collect();
    store.append(&all, now).await.unwrap();
    let compactor = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut moved = 0;
            for _ in 0..50 {
                moved += store.compact(now).await.unwrap();
                tokio::task::yield_now().await;
            }
            moved
        })
    };
    let (mut stored, mut duplicate) = (0, 0);
    for part in hosts.chunks(10) {
        let mut b: Vec<SeriesBatch> = part.iter().map(|h| batch(h, &late)).collect();
        b.extend(part.iter().map(|h| batch(h, &first[..20])));
        let out = store.append(&b, now).await.unwrap();
        stored += out.stored;
        duplicate += out.duplicate;
        assert_eq!(out.conflicts, 0);
    }
    compactor.await.unwrap();
    while store.compact(now).await.unwrap() > 0 {}
    assert_eq!((stored, duplicate), (120 * 480, 120 * 20));
    let mut want = first.clone();
    want.extend(&late);
    want.sort_by_key(|s| s.0);
    for h in &hosts {
        let got = store.samples(id(&store, h).await, 0, now).await.unwrap();
        assert!(
            same(&got, &want),
            "{h}: {} samples, {} expected",
            got.len(),
            want.len()
        );
    }
}

contract!(
    reads_dedup_and_backfill_across_chunks,
    rollups_and_retention_over_chunks,
    backfill_during_compaction_loses_nothing
);

/// A chunk damaged on disk is an error for the reads of its series,
/// never a panic, and compaction goes on with the other series.
#[tokio::test]
async fn a_corrupt_chunk_blocks_only_its_own_series() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let store = support::sqlite_store(&dir).await;
    let now = now_ms();
    let h0 = (now - 8 * HOUR).div_euclid(WINDOW_MS) * WINDOW_MS;
    let pts: Vec<(i64, f64)> = (0..100).map(|i| (h0 + 1 + i * 60_000, i as f64)).collect();
    store
        .append(&[batch("good", &pts), batch("bad", &pts)], now)
        .await
        .unwrap();
    while store.compact(now).await.unwrap() > 0 {}
    let (good, bad) = (id(&store, "good").await, id(&store, "bad").await);
    let mut c =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
    sqlx::query("UPDATE sample_chunks SET data = x'01ffffffff00' WHERE series_id = ?")
        .bind(bad)
        .execute(&mut c)
        .await
        .unwrap();
    drop(c);
    // Backfill into the damaged window for both series: the batch is
    // stored, and the next step compacts the good series.
    let late = [(h0 + 30_001, -1.0)];
    let out = store
        .append(&[batch("good", &late), batch("bad", &late)], now)
        .await
        .unwrap();
    assert_eq!(out.stored, 2);
    store.compact(now).await.unwrap();
    let mut want = pts.clone();
    want.extend(late);
    want.sort_by_key(|s| s.0);
    assert!(same(&store.samples(good, 0, now).await.unwrap(), &want));
    let err = store.samples(bad, 0, now).await.unwrap_err().to_string();
    assert!(
        err.contains("corrupt chunk") || err.contains("at most"),
        "{err}"
    );
    assert!(err.contains(&format!("series {bad}")), "{err}");
}
