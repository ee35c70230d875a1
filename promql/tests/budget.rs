//! No query text can overflow the evaluating thread's stack or hold
//! unbounded memory: queries at the depth limit evaluate on tokio's default
//! 2 MiB stacks, deeper ones and runaway subqueries get a clear 400.

use dozor_common::{Labels, Sample};
use dozor_promql::budget::MAX_DEPTH;
use dozor_promql::memory::MemorySource;
use dozor_promql::{Engine, Limits, QueryError, Range};
use std::sync::Arc;

const T: i64 = 1_700_000_000_000;

fn engine() -> Engine {
    let mut src = MemorySource::default();
    for host in ["a", "b"] {
        let labels: Labels = [("host".to_string(), host.to_string())].into();
        let samples = (0..120)
            .map(|i| Sample::new(T - i * 15_000, i as f64))
            .rev()
            .collect();
        src.add("up", labels, samples);
    }
    Engine::new(Arc::new(src), Limits::default())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(2 << 20)
        .enable_all()
        .build()
        .unwrap()
}

fn nested(open: &str, close: &str, n: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

/// Shapes that recurse through different evaluator paths, `n` deep.
fn shapes(n: usize) -> Vec<String> {
    vec![
        nested("abs(", ")", n - 1, "up"),
        nested("sum(", ")", n - 1, "up"),
        nested("sum by (host) (", ")", n - 1, "up"),
        nested("(", ")", n - 1, "up"),
        nested("-(", ")", (n - 1) / 2, "up"),
        nested("clamp_min(", ", 0)", n - 1, "up"),
        format!("up{}", " + up".repeat(n - 1)),
        format!("1{}", " * 1".repeat(n - 1)),
        format!("up{}", " and on(host) up".repeat(n - 1)),
        nested("max_over_time((", ")[1m:1m])", (n - 1) / 3, "up"),
    ]
}

#[test]
fn queries_at_the_depth_limit_evaluate_on_small_stacks() {
    let rt = runtime();
    let e = engine();
    for q in shapes(MAX_DEPTH) {
        let r = rt.block_on(e.instant(&q, T));
        assert!(r.is_ok(), "{}…: {:?}", &q[..30.min(q.len())], r.err());
        let r = rt.block_on(e.range(
            &q,
            Range {
                start_ms: T - 600_000,
                end_ms: T,
                step_ms: 60_000,
            },
        ));
        assert!(r.is_ok(), "{}…: {:?}", &q[..30.min(q.len())], r.err());
    }
}

#[test]
fn deeper_queries_are_refused_not_crashed() {
    let rt = runtime();
    let e = engine();
    // The sizes the hardening report crashed the server with.
    for q in [
        nested("abs(", ")", 1_400, "vector(1)") + " > 0",
        nested("sum(", ")", 3_200, "up"),
        nested("(", ")", 3_800, "1"),
        format!("1{}", "+1".repeat(6_400)),
    ] {
        match rt.block_on(e.instant(&q, T)) {
            Err(QueryError::BadData(m)) => assert!(
                m.contains("deeper than 200 levels") || m.contains("bytes long"),
                "{m}"
            ),
            other => panic!("{}…: {other:?}", &q[..20]),
        }
    }
    for q in shapes(MAX_DEPTH + 1).into_iter().take(9) {
        match rt.block_on(e.instant(&q, T)) {
            Err(QueryError::BadData(m)) => assert!(m.contains("deeper than 200"), "{m}"),
            other => panic!("{}…: {other:?}", &q[..20]),
        }
    }
}

#[test]
fn runaway_subqueries_are_refused_before_evaluating() {
    let rt = runtime();
    let e = engine();
    for q in [
        "max_over_time(vector(1)[30d:1ms])",
        "max_over_time(vector(1)[1d:1ms])",
        "max_over_time(max_over_time(up[1d:1s])[1h:1s])",
    ] {
        let started = std::time::Instant::now();
        match rt.block_on(e.instant(q, T)) {
            Err(QueryError::BadData(m)) => assert!(m.contains("limit"), "{m}"),
            other => panic!("{q}: {other:?}"),
        }
        // Refused up front, not after grinding to the timeout.
        assert!(started.elapsed().as_secs() < 5, "{q}");
    }
}

#[test]
fn results_over_the_point_budget_fail_clearly() {
    let rt = runtime();
    let mut src = MemorySource::default();
    for i in 0..50 {
        let labels: Labels = [("i".to_string(), i.to_string())].into();
        let samples = vec![
            Sample::new(T - 85 * 60_000, 1.0),
            Sample::new(T - 30 * 60_000, 1.0),
        ];
        src.add("m", labels, samples);
    }
    let e = Engine::new(
        Arc::new(src),
        Limits {
            max_samples: 1_000,
            ..Limits::default()
        },
    );
    // 100 samples load, but 50 series × 30 subquery steps = 1,500 points.
    let r = rt.block_on(e.instant("max_over_time(last_over_time(m[1h])[30m:1m])", T));
    assert!(
        matches!(&r, Err(QueryError::Execution(m)) if m.contains("more than 1000 points")),
        "{r:?}"
    );
    // 50 series × 31 steps in a range result.
    let r = rt.block_on(e.range(
        "last_over_time(m[1h])",
        Range {
            start_ms: T - 1_800_000,
            end_ms: T,
            step_ms: 60_000,
        },
    ));
    assert!(
        matches!(&r, Err(QueryError::Execution(m)) if m.contains("more than 1000 points")),
        "{r:?}"
    );
}
