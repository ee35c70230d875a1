//! The PromQL golden suite, in the spirit of Prometheus's promqltest:
//! files in tests/promql/*.test load series with values over time, then
//! evaluate expressions at given times and compare exact results
//! (labels, values; NaN equals NaN; floats to 1e-6 relative). Every file
//! runs on SQLite, PostgreSQL and TimescaleDB. The format is read and
//! results compared by `dozor_promql::promqltest`, as for the conformance
//! run over Prometheus's own files (`cargo bench -p dozor-promql --bench
//! conformance`).
//!
//! ```text
//! load 1m
//!   http_requests{job="api", instance="0"} 0+10x10 _ stale 3
//! eval instant at 5m sum by (job) (http_requests)
//!   {job="api"} 50
//! eval range from 0 to 2m step 1m rate(http_requests[2m])
//!   {instance="0", job="api"} _ 0.1666 0.1666
//! eval_fail instant at 0 foo +
//! ```

use crate::support;

use dozor_common::{Sample as Point, SeriesBatch};
use dozor_server::promql::promqltest::{self, Block};
use dozor_server::promql::{Limits, Range};
use dozor_server::storage::Store;

async fn load(
    store: &Store,
    step: i64,
    series: Vec<(dozor_server::promql::value::Metric, Vec<Option<f64>>)>,
) {
    let mut batch = Vec::new();
    for (mut metric, values) in series {
        let name = metric
            .remove("__name__")
            .expect("loaded series need a name");
        let points: Vec<Point> = values
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| Point::new(i as i64 * step, v)))
            .collect();
        batch.push(SeriesBatch::new(name, metric.into_iter().collect(), points));
    }
    store.append(&batch, support::now_ms()).await.expect("load");
    // Files load near the epoch: with a retention that reaches back that
    // far, every window is closed and compacted where the store keeps
    // chunks, so the suite reads them (rows are read by PostgreSQL's run).
    store.set_retention(80 * 366 * 86_400_000).await.unwrap();
    while store.compact(support::now_ms()).await.unwrap() > 0 {}
}

/// Runs a file on `store` (which must start empty; files here have no
/// `clear`); returns what failed.
async fn run_file(store: Store, path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let blocks = promqltest::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let engine = dozor_server::storage::engine(&store, Limits::default());
    let mut failures = Vec::new();
    for b in blocks {
        let case = match b {
            Block::Load(step, series, _) => {
                load(&store, step, series).await;
                continue;
            }
            Block::Clear => panic!("{name}: golden files load once"),
            Block::Eval(case) => case,
        };
        let got = if case.instant {
            engine.instant(&case.expr, case.start_ms).await
        } else {
            let r = Range {
                start_ms: case.start_ms,
                end_ms: case.end_ms,
                step_ms: case.step_ms,
            };
            engine.range(&case.expr, r).await
        };
        match (got, case.fail) {
            (Err(_), true) => {}
            (Ok(v), true) => failures.push(format!(
                "{name}:{} {}: expected an error, got {v:?}",
                case.line, case.expr
            )),
            (Err(e), false) => failures.push(format!("{name}:{} {}: {e}", case.line, case.expr)),
            (Ok(v), false) => {
                if let Err(e) = promqltest::check(&case, v) {
                    failures.push(format!("{name}:{} {}: {e}", case.line, case.expr));
                }
            }
        }
    }
    failures
}

fn files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/promql"));
    let mut f: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    f.sort();
    assert!(!f.is_empty());
    f
}

#[tokio::test]
async fn golden_sqlite() {
    let mut failures = Vec::new();
    for f in files() {
        let dir = tempfile::tempdir().unwrap();
        failures.extend(run_file(support::sqlite_store(&dir).await, &f).await);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn golden_postgres() {
    let mut failures = Vec::new();
    for f in files() {
        let Some(db) = support::pg_database().await else {
            return;
        };
        failures.extend(run_file(support::pg_store(&db).await, &f).await);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn golden_timescale() {
    let mut failures = Vec::new();
    for f in files() {
        let Some(db) = support::timescale_database().await else {
            return;
        };
        failures.extend(run_file(support::pg_store(&db).await, &f).await);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
