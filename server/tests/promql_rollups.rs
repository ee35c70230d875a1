//! `*_over_time` served from rollups must equal the raw evaluation, on
//! every backend: windows on bucket boundaries, samples on boundaries,
//! gaps, stale markers, NaN samples, the tail above the watermark, and
//! late samples.

use crate::support;

use dozor_common::{Sample as RawSample, SeriesBatch};
use dozor_server::promql::value::stale_nan;
use dozor_server::promql::{Engine, Limits, Range, Value};
use dozor_server::storage::Store;
use std::sync::atomic::Ordering::Relaxed;
use support::now_ms;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn batch(host: &str, points: Vec<(i64, f64)>) -> SeriesBatch {
    SeriesBatch::new(
        "m",
        [("host".to_string(), host.to_string())].into(),
        points
            .into_iter()
            .map(|(t, v)| RawSample::new(t, v))
            .collect(),
    )
}

/// Host a: every 15 s from h0, on bucket boundaries, with a stale marker
/// at h0 + 3h. Host b: every 20 s, 7 ms late, with a 40-minute gap.
/// Host c: every 15 s with NaN samples: one in 97, one ending a bucket
/// (h0 + 2h), and a whole window of them, (h0 + 6h, h0 + 7h].
async fn load(store: &Store, h0: i64, now: i64) {
    let mut a = Vec::new();
    let mut t = h0;
    while t < now - 30_000 {
        let v = if t == h0 + 3 * HOUR {
            stale_nan()
        } else {
            ((t / 15_000) % 23) as f64 * 0.25 - 2.0
        };
        a.push((t, v));
        t += 15_000;
    }
    let mut b = Vec::new();
    let mut t = h0 + 7;
    while t < now - 30_000 {
        if !(h0 + 5 * HOUR..h0 + 5 * HOUR + 40 * MIN).contains(&t) {
            b.push((t, ((t / 20_000) % 31) as f64 + 100.0));
        }
        t += 20_000;
    }
    let mut c = Vec::new();
    let mut t = h0;
    while t < now - 30_000 {
        let nan = (t / 15_000) % 97 == 0
            || t == h0 + 2 * HOUR
            || (h0 + 6 * HOUR + 1..=h0 + 7 * HOUR).contains(&t);
        c.push((
            t,
            if nan {
                f64::NAN
            } else {
                ((t / 15_000) % 13) as f64
            },
        ));
        t += 15_000;
    }
    let r = store
        .append(&[batch("a", a), batch("b", b), batch("c", c)], now)
        .await
        .unwrap();
    assert!(r.stored > 4000);
}

fn same(got: &Value, want: &Value) -> Result<(), String> {
    let close = |x: f64, y: f64| {
        x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
    };
    match (got, want) {
        (Value::Matrix(g), Value::Matrix(w)) if g.len() == w.len() => {
            for (gs, ws) in g.iter().zip(w) {
                let ok = gs.metric == ws.metric
                    && gs.points.len() == ws.points.len()
                    && gs
                        .points
                        .iter()
                        .zip(&ws.points)
                        .all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
                if !ok {
                    return Err(format!("{:?}\n got {:?}\nwant {:?}", gs.metric, gs, ws));
                }
            }
            Ok(())
        }
        (Value::Vector(g), Value::Vector(w)) if g.len() == w.len() => {
            for (a, b) in g.iter().zip(w) {
                if a.metric != b.metric || a.t != b.t || !close(a.v, b.v) {
                    return Err(format!("got {a:?}, want {b:?}"));
                }
            }
            Ok(())
        }
        _ => Err(format!("got {got:?}\nwant {want:?}")),
    }
}

/// Runs `q` both ways; returns the rollup buckets the rollup engine read.
async fn compare(engine: &Engine, q: &str, r: Range) -> u64 {
    let before = engine.stats().rollup_buckets_loaded.load(Relaxed);
    let (got, want) = if r.step_ms == 0 {
        (
            engine.instant(q, r.start_ms).await.unwrap(),
            engine
                .without_rollups()
                .instant(q, r.start_ms)
                .await
                .unwrap(),
        )
    } else {
        (
            engine.range(q, r).await.unwrap(),
            engine.without_rollups().range(q, r).await.unwrap(),
        )
    };
    if let Err(e) = same(&got, &want) {
        panic!("{q} over {r:?}: {e}");
    }
    match &want {
        Value::Matrix(m) => assert!(!m.is_empty(), "{q}: empty result proves nothing"),
        Value::Vector(v) => assert!(!v.is_empty(), "{q}: empty result proves nothing"),
        _ => {}
    }
    engine.stats().rollup_buckets_loaded.load(Relaxed) - before
}

async fn rollups_match_raw(store: Store) {
    let now = now_ms();
    let h0 = (now - 12 * HOUR).div_euclid(HOUR) * HOUR;
    load(&store, h0, now).await;
    // Compacted first: rollups and raw reads both come from chunks.
    store.compact(now).await.unwrap();
    store.refresh_rollups(now).await.unwrap();
    let engine = dozor_server::storage::engine(&store, Limits::default());
    let hourly = Range {
        start_ms: h0 + 2 * HOUR,
        end_ms: h0 + 10 * HOUR,
        step_ms: HOUR,
    };
    for q in [
        "avg_over_time(m[1h])",
        "sum_over_time(m[1h])",
        "count_over_time(m[2h])",
        "min_over_time(m[1h])",
        "max_over_time(m[1h])",
        "last_over_time(m[1h])",
        "present_over_time(m[1h])",
        "sum by (host) (avg_over_time(m[1h] offset 1h))",
        "max_over_time(m{host=\"b\"}[1h]) - min_over_time(m{host=\"b\"}[1h])",
    ] {
        assert!(compare(&engine, q, hourly).await > 0, "{q} read no rollups");
    }
    // 5-minute buckets: a 30-minute window and a 5-minute step.
    let fine = Range {
        start_ms: h0 + 4 * HOUR,
        end_ms: h0 + 6 * HOUR,
        step_ms: 5 * MIN,
    };
    for q in ["count_over_time(m[30m])", "max_over_time(m[5m])"] {
        assert!(compare(&engine, q, fine).await > 0, "{q} read no rollups");
    }
    // Up to now: the windows above the watermark are read raw.
    let tail_end = now.div_euclid(5 * MIN) * 5 * MIN;
    let tail = Range {
        start_ms: tail_end - 2 * HOUR,
        end_ms: tail_end,
        step_ms: 5 * MIN,
    };
    assert!(compare(&engine, "sum_over_time(m[1h])", tail).await > 0);
    // Instant queries on a boundary, and `@`.
    let at = Range {
        start_ms: h0 + 7 * HOUR,
        end_ms: h0 + 7 * HOUR,
        step_ms: 0,
    };
    assert!(compare(&engine, "avg_over_time(m[3h])", at).await > 0);
    let q = format!("max_over_time(m[1h] @ {})", (h0 + 6 * HOUR) / 1000);
    assert!(compare(&engine, &q, hourly).await > 0);
    // Not on a boundary, or not computable from buckets: raw, still equal.
    let odd = Range {
        start_ms: h0 + 2 * HOUR + 7_000,
        end_ms: h0 + 3 * HOUR,
        step_ms: 10 * MIN,
    };
    assert_eq!(compare(&engine, "avg_over_time(m[1h])", odd).await, 0);
    assert_eq!(compare(&engine, "stddev_over_time(m[1h])", hourly).await, 0);

    // A late sample makes its bucket dirty: raw until the next pass.
    let late = h0 + 4 * HOUR + 30 * MIN + 1_234;
    store
        .append(&[batch("a", vec![(late, 1e6)])], now)
        .await
        .unwrap();
    assert_eq!(compare(&engine, "max_over_time(m[1h])", hourly).await, 0);
    store.refresh_rollups(now).await.unwrap();
    assert!(compare(&engine, "max_over_time(m[1h])", hourly).await > 0);
    let Value::Matrix(m) = engine
        .range("max_over_time(m{host=\"a\"}[1h])", hourly)
        .await
        .unwrap()
    else {
        panic!("matrix expected")
    };
    assert!(m[0].points.contains(&(h0 + 5 * HOUR, 1e6)));
}

/// A 5-day backfill (older than TimescaleDB's 3-day refresh window) and
/// in-order data from the first hour on: an aligned query (rollups where
/// they are complete) and the raw evaluation agree, and once maintenance
/// has caught up the rollups serve the whole range.
async fn backfill_and_first_hour_match_raw(store: Store) {
    let now = now_ms();
    let h0 = (now - 5 * 24 * HOUR).div_euclid(HOUR) * HOUR;
    let points: Vec<(i64, f64)> = (0..)
        .map(|k| (h0 + k * MIN, ((k * 7) % 13) as f64))
        .take_while(|(t, _)| *t < now - MIN)
        .collect();
    let n = points.len();
    let r = store
        .append(&[batch("backfill", points)], now)
        .await
        .unwrap();
    assert_eq!(r.stored as usize, n);
    let engine = dozor_server::storage::engine(&store, Limits::default());
    let hourly = Range {
        start_ms: h0 + 2 * HOUR,
        end_ms: (now - 2 * HOUR).div_euclid(HOUR) * HOUR,
        step_ms: HOUR,
    };
    // Before any maintenance: whatever the backend has, the answer is right.
    compare(&engine, "avg_over_time(m[1h])", hourly).await;
    for _ in 0..20 {
        store.refresh_rollups(now).await.unwrap();
        store.compact(now).await.unwrap();
    }
    let read = compare(&engine, "avg_over_time(m[1h])", hourly).await;
    let steps = ((hourly.end_ms - hourly.start_ms) / HOUR + 1) as u64;
    assert!(
        read >= steps,
        "rollups served the backfill: {read} buckets for {steps} steps"
    );
    // The first hour of in-order data, and a late sample in it.
    let first = Range {
        start_ms: hourly.end_ms - HOUR,
        end_ms: hourly.end_ms,
        step_ms: 5 * MIN,
    };
    compare(&engine, "max_over_time(m[5m])", first).await;
    store
        .append(
            &[batch("backfill", vec![(hourly.end_ms - 20 * MIN - 1, 1e9)])],
            now,
        )
        .await
        .unwrap();
    compare(&engine, "max_over_time(m[5m])", first).await;
    compare(&engine, "max_over_time(m[1h])", hourly).await;
}

contract!(rollups_match_raw, backfill_and_first_hour_match_raw);
