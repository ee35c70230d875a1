//! Any text as a PromQL query, evaluated instant and as a range over a
//! small in-memory set of series (counters with a reset, gauges, NaN,
//! stale markers, histogram buckets): evaluation must answer or refuse,
//! never panic, overflow the stack, hang past its deadline or blow up
//! memory (libFuzzer's -rss_limit_mb and -timeout catch those).
#![no_main]

use dozor_common::{Labels, Sample};
use dozor_promql::memory::MemorySource;
use dozor_promql::{Engine, Limits, QueryError, Range};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const T: i64 = 1_700_000_000_000;
const STALE: u64 = 0x7ff0_0000_0000_0002;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn source() -> MemorySource {
    let mut src = MemorySource::default();
    let times = |n: i64| (0..n).rev().map(|i| T - i * 15_000);
    for host in ["a", "b"] {
        let counter = times(40)
            .enumerate()
            .map(|(i, t)| Sample::new(t, if i == 20 { 3.0 } else { i as f64 * 10.0 }))
            .collect();
        src.add("reqs_total", labels(&[("host", host), ("job", "api")]), counter);
        let gauge = times(40)
            .enumerate()
            .map(|(i, t)| Sample::new(t, (i as f64).sin() * 100.0))
            .collect();
        src.add("temp", labels(&[("host", host)]), gauge);
    }
    let odd = vec![
        Sample::new(T - 60_000, f64::NAN),
        Sample::new(T - 45_000, f64::INFINITY),
        Sample::new(T - 30_000, f64::from_bits(STALE)),
        Sample::new(T - 15_000, -0.0),
    ];
    src.add("odd", labels(&[("host", "a")]), odd);
    for (le, n) in [("0.1", 1.0), ("0.5", 4.0), ("+Inf", 9.0)] {
        let b = times(40).map(|t| Sample::new(t, n * ((T - t) as f64 / 1e4))).collect();
        src.add("lat_bucket", labels(&[("le", le)]), b);
    }
    src
}

struct World {
    rt: tokio::runtime::Runtime,
    engine: Engine,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| World {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime"),
        engine: Engine::new(
            Arc::new(source()),
            Limits {
                max_samples: 200_000,
                timeout: Duration::from_secs(5),
                ..Limits::default()
            },
        ),
    })
}

fn check(r: Result<dozor_promql::Value, QueryError>) {
    if let Err(QueryError::Internal(e)) = r {
        panic!("evaluation panicked: {e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let w = world();
    check(w.rt.block_on(w.engine.instant(q, T)));
    check(w.rt.block_on(w.engine.range(
        q,
        Range {
            start_ms: T - 600_000,
            end_ms: T,
            step_ms: 30_000,
        },
    )));
});
