//! The storage contract: the same tests against SQLite and PostgreSQL.

use crate::support;

use dozor_common::{Labels, Sample, SeriesBatch};
use dozor_server::storage::rollup::Resolution;
use dozor_server::storage::{RollupPoint, Store};
use support::now_ms;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn series(name: &str, l: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesBatch {
    SeriesBatch::new(
        name,
        labels(l),
        samples.iter().map(|(t, v)| Sample::new(*t, *v)).collect(),
    )
}

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

async fn write_and_read(store: Store) {
    let t = now_ms() - 10 * MIN;
    let batch = vec![
        series(
            "node_load1",
            &[("host", "a")],
            &[(t, 0.5), (t + 10_000, 0.75), (t + 20_000, 1.0)],
        ),
        series("node_load1", &[("host", "b")], &[(t, 2.0)]),
        series(
            "weird",
            &[("host", "a"), ("path", "a,b=c}\"\\\n")],
            &[(t, f64::INFINITY), (t + 1, f64::NEG_INFINITY)],
        ),
    ];
    let out = store.append(&batch, now_ms()).await.unwrap();
    assert_eq!((out.stored, out.duplicate, out.new_series), (6, 0, 3));

    let found = store
        .find_series(Some("node_load1"), &labels(&[("host", "a")]), 100)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].labels, labels(&[("host", "a")]));
    // Inclusive range [t + 10s, t + 20s].
    let got = store
        .samples(found[0].id, t + 10_000, t + 20_000)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![Sample::new(t + 10_000, 0.75), Sample::new(t + 20_000, 1.0)]
    );

    let weird = store
        .find_series(Some("weird"), &Labels::new(), 10)
        .await
        .unwrap();
    assert_eq!(
        weird[0].labels["path"], "a,b=c}\"\\\n",
        "label values survive byte for byte"
    );
    let got = store.samples(weird[0].id, t, t + 1).await.unwrap();
    assert_eq!(
        got,
        vec![
            Sample::new(t, f64::INFINITY),
            Sample::new(t + 1, f64::NEG_INFINITY)
        ]
    );
    assert_eq!(store.series_count().await.unwrap(), 3);
    assert_eq!(
        store
            .series_by_id(found[0].id)
            .await
            .unwrap()
            .unwrap()
            .metric,
        "node_load1"
    );
    assert!(store.series_by_id(987_654).await.unwrap().is_none());
}

async fn idempotent_rewrite(store: Store) {
    let t = now_ms() - 5 * MIN;
    let batch = vec![
        series(
            "up",
            &[("host", "a"), ("job", "x")],
            &[(t, 1.0), (t + 1000, 1.0)],
        ),
        series("up", &[("job", "x"), ("host", "b")], &[(t, 0.0)]),
    ];
    assert_eq!(store.append(&batch, now_ms()).await.unwrap().stored, 3);
    let again = store.append(&batch, now_ms()).await.unwrap();
    assert_eq!((again.stored, again.duplicate, again.new_series), (0, 3, 0));
    // Same again with a cold series cache, as after a restart.
    store.cache().clear();
    let cold = store.append(&batch, now_ms()).await.unwrap();
    assert_eq!((cold.stored, cold.duplicate, cold.new_series), (0, 3, 0));
    // A partly new batch stores only the new sample.
    let mixed = vec![series(
        "up",
        &[("host", "a"), ("job", "x")],
        &[(t + 1000, 1.0), (t + 2000, 1.0)],
    )];
    assert_eq!(store.append(&mixed, now_ms()).await.unwrap().stored, 1);
    let s = store
        .find_series(Some("up"), &labels(&[("host", "a")]), 10)
        .await
        .unwrap();
    assert_eq!(
        store.samples(s[0].id, 0, i64::MAX / 2).await.unwrap().len(),
        3
    );
}

async fn series_listing(store: Store) {
    let t = now_ms() - MIN;
    let batch = vec![
        series(
            "node_cpu_seconds_total",
            &[("host", "a"), ("cpu", "0"), ("mode", "idle")],
            &[(t, 1.0)],
        ),
        series(
            "node_cpu_seconds_total",
            &[("host", "a"), ("cpu", "1"), ("mode", "idle")],
            &[(t, 1.0)],
        ),
        series(
            "node_cpu_seconds_total",
            &[("host", "b"), ("cpu", "0"), ("mode", "user")],
            &[(t, 1.0)],
        ),
        series("node_load1", &[("host", "a")], &[(t, 1.0)]),
    ];
    store.append(&batch, now_ms()).await.unwrap();
    let count = |m: Option<&'static str>, l: &'static [(&str, &str)]| {
        let store = store.clone();
        async move { store.find_series(m, &labels(l), 100).await.unwrap().len() }
    };
    assert_eq!(count(Some("node_cpu_seconds_total"), &[]).await, 3);
    assert_eq!(
        count(Some("node_cpu_seconds_total"), &[("host", "a")]).await,
        2
    );
    assert_eq!(
        count(
            Some("node_cpu_seconds_total"),
            &[("host", "a"), ("cpu", "1")]
        )
        .await,
        1
    );
    assert_eq!(
        count(Some("node_cpu_seconds_total"), &[("mode", "steal")]).await,
        0
    );
    assert_eq!(count(None, &[("host", "a")]).await, 3);
    assert_eq!(count(Some("nope"), &[]).await, 0);
    assert_eq!(
        store
            .find_series(None, &Labels::new(), 2)
            .await
            .unwrap()
            .len(),
        2,
        "limit applies"
    );
}

async fn retention_drop(store: Store) {
    let now = now_ms();
    let old = now - 10 * 24 * HOUR;
    let batch = vec![series(
        "m",
        &[("host", "a")],
        &[(old, 1.0), (old + 1000, 2.0), (now - HOUR, 3.0)],
    )];
    assert_eq!(store.append(&batch, now).await.unwrap().stored, 3);
    store.refresh_rollups(now).await.unwrap();
    let id = store
        .find_series(Some("m"), &Labels::new(), 1)
        .await
        .unwrap()[0]
        .id;
    assert_eq!(
        store
            .rollups(id, Resolution::FiveMinutes, 0, now)
            .await
            .unwrap()
            .len(),
        2
    );
    store.apply_retention(now, 3 * 24 * HOUR).await.unwrap();
    let left = store.samples(id, 0, now).await.unwrap();
    assert_eq!(left, vec![Sample::new(now - HOUR, 3.0)]);
    let rolled = store
        .rollups(id, Resolution::FiveMinutes, 0, now)
        .await
        .unwrap();
    assert_eq!(rolled.len(), 1, "expired rollups go too");
    assert!(rolled[0].bucket_ms > now - 2 * HOUR);
}

/// Series that retention left empty are deleted (rows and cache
/// entries), and can come back as new series.
async fn series_pruning(store: Store) {
    let now = now_ms();
    let old = now - 10 * 24 * HOUR;
    // A container gone ten days ago, and one still running.
    store
        .append(&[series("gone", &[("c", "a")], &[(old, 1.0)])], old)
        .await
        .unwrap();
    store
        .append(
            &[series(
                "kept",
                &[("c", "b")],
                &[(old, 1.0), (now - MIN, 2.0)],
            )],
            old,
        )
        .await
        .unwrap();
    store.refresh_rollups(now).await.unwrap();
    store.apply_retention(now, 3 * 24 * HOUR).await.unwrap();
    let cached = store.cache().len();
    assert_eq!(store.prune_series(now - 3 * 24 * HOUR).await.unwrap(), 1);
    let find = |m: &'static str| {
        let store = store.clone();
        async move {
            store
                .find_series(Some(m), &Labels::new(), 10)
                .await
                .unwrap()
        }
    };
    assert!(find("gone").await.is_empty());
    assert_eq!(find("kept").await.len(), 1);
    assert_eq!(
        store.cache().len(),
        cached - 1,
        "forgotten by the cache too"
    );
    assert_eq!(store.prune_series(now - 3 * 24 * HOUR).await.unwrap(), 0);
    // It comes back as a new series.
    let back = store
        .append(&[series("gone", &[("c", "a")], &[(now, 3.0)])], now)
        .await
        .unwrap();
    assert_eq!((back.stored, back.new_series), (1, 1));
    let id = find("gone").await[0].id;
    assert_eq!(
        store.samples(id, 0, now).await.unwrap(),
        vec![Sample::new(now, 3.0)]
    );
}

/// Aggregates computed in Rust from the raw samples. Buckets are
/// left-open: bucket b holds b < t <= b + width.
fn expected(samples: &[(i64, f64)], width: i64) -> Vec<RollupPoint> {
    let mut out: Vec<RollupPoint> = Vec::new();
    for &(t, v) in samples {
        let b = (t - 1).div_euclid(width) * width;
        match out.last_mut() {
            Some(p) if p.bucket_ms == b => {
                p.min = p.min.min(v);
                p.max = p.max.max(v);
                p.sum += v;
                p.count += 1;
                p.last = v;
            }
            _ => out.push(RollupPoint {
                bucket_ms: b,
                min: v,
                max: v,
                sum: v,
                count: 1,
                nan: 0,
                last: v,
            }),
        }
    }
    out
}

async fn rollup_correctness(store: Store) {
    let now = now_ms();
    let h = (now - 5 * HOUR).div_euclid(HOUR) * HOUR;
    // Two hours every 30 s; values are multiples of 0.25 so sums are exact.
    // Host a's samples sit on bucket boundaries: its first one, at h,
    // closes the bucket before h.
    let a: Vec<(i64, f64)> = (0..240)
        .map(|i| (h + i * 30_000, ((i * 7) % 17) as f64 * 0.25))
        .collect();
    let b: Vec<(i64, f64)> = (0..240)
        .map(|i| (h + i * 30_000 + 7, 100.0 - (i % 13) as f64))
        .collect();
    store
        .append(
            &[
                series("r", &[("host", "a")], &a),
                series("r", &[("host", "b")], &b),
            ],
            now,
        )
        .await
        .unwrap();
    assert!(store.refresh_rollups(now).await.unwrap() > 0);
    for (host, data) in [("a", &a), ("b", &b)] {
        let id = store
            .find_series(Some("r"), &labels(&[("host", host)]), 1)
            .await
            .unwrap()[0]
            .id;
        let five = store
            .rollups(id, Resolution::FiveMinutes, h - HOUR, h + 2 * HOUR)
            .await
            .unwrap();
        assert_eq!(five.len(), if host == "a" { 25 } else { 24 });
        assert_eq!(five, expected(data, 300_000), "5m rollups of host {host}");
        let hour = store
            .rollups(id, Resolution::OneHour, h - HOUR, h + 2 * HOUR)
            .await
            .unwrap();
        assert_eq!(hour, expected(data, HOUR), "1h rollups of host {host}");
    }
    // A late sample into an already rolled-up bucket is picked up next pass.
    let late = (h + 61_000, 1000.0);
    let before = store.rollup_coverage().await.unwrap();
    assert!(before.watermark_ms > h + 2 * HOUR && before.dirty.is_empty());
    store
        .append(&[series("r", &[("host", "a")], &[late])], now)
        .await
        .unwrap();
    assert_eq!(store.rollup_coverage().await.unwrap().dirty, vec![h]);
    store.refresh_rollups(now).await.unwrap();
    assert!(store.rollup_coverage().await.unwrap().dirty.is_empty());
    let id = store
        .find_series(Some("r"), &labels(&[("host", "a")]), 1)
        .await
        .unwrap()[0]
        .id;
    let mut with_late = a.clone();
    with_late.push(late);
    with_late.sort_by_key(|p| p.0);
    let five = store
        .rollups(id, Resolution::FiveMinutes, h - HOUR, h + 2 * HOUR)
        .await
        .unwrap();
    assert_eq!(five, expected(&with_late, 300_000));
    assert_eq!(five[1].bucket_ms, h);
    assert_eq!(five[1].max, 1000.0);
    let hour = store
        .rollups(id, Resolution::OneHour, h - HOUR, h + 2 * HOUR)
        .await
        .unwrap();
    assert_eq!(hour, expected(&with_late, HOUR));
    // Idempotent: another pass changes nothing.
    store.refresh_rollups(now).await.unwrap();
    assert_eq!(
        store
            .rollups(id, Resolution::FiveMinutes, h - HOUR, h + 2 * HOUR)
            .await
            .unwrap(),
        five
    );
}

contract!(
    write_and_read,
    idempotent_rewrite,
    series_listing,
    retention_drop,
    series_pruning,
    rollup_correctness
);
