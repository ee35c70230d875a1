//! How much of Prometheus's own PromQL test suite dozor's engine passes
//! (not a test: a report). Point it at Prometheus's test files (a checkout
//! of prometheus/prometheus, `promql/promqltest/testdata/`; they are not
//! copied into this repository):
//!
//!   DOZOR_PROMQLTEST_DIR=…/promql/promqltest/testdata \
//!     cargo bench -p dozor-promql --bench conformance [-- -v]
//!
//! Each `eval` is run on dozor's engine over an in-memory source, exactly
//! as loaded, and compared as promqltest does (labels, values to 1e-6
//! relative, order when asked, an error when one is expected), through
//! `dozor_promql::promqltest`, the reader the golden suite uses.
//! Annotations (`expect warn|info`) are not compared; cases reading or
//! expecting what dozor's data model has no room for (native histograms,
//! start timestamps, state sets) are skipped and counted. Failures whose
//! query does not parse are counted apart: that is syntax newer than
//! promql-parser (Prometheus's experimental features).

use dozor_promql::memory::MemorySource;
use dozor_promql::promqltest::{self, Block};
use dozor_promql::{Engine, Limits, Range};
use std::sync::Arc;

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Of the failures: the query did not parse (syntax newer than
    /// promql-parser, mostly Prometheus's experimental features).
    unparsed: usize,
    skipped: usize,
}

async fn run(name: &str, text: &str, verbose: bool) -> Tally {
    let mut t = Tally::default();
    let blocks = match promqltest::parse(text) {
        Ok(b) => b,
        Err(e) => {
            println!("{name}: not readable: {e}");
            return t;
        }
    };
    let mut source = MemorySource::default();
    let mut engine = Engine::new(Arc::new(source.clone()), Limits::default());
    for b in blocks {
        match b {
            Block::Clear => {
                source = MemorySource::default();
                engine = Engine::new(Arc::new(source.clone()), Limits::default());
            }
            Block::Load(step, series, _) => {
                for (mut m, values) in series {
                    let metric = m.remove("__name__").unwrap_or_default();
                    let samples = values
                        .into_iter()
                        .enumerate()
                        .filter_map(|(i, v)| {
                            v.map(|v| dozor_common::Sample::new(i as i64 * step, v))
                        })
                        .collect();
                    source.add(&metric, m.into_iter().collect(), samples);
                }
                engine = Engine::new(Arc::new(source.clone()), Limits::default());
            }
            Block::Eval(case) if case.unsupported.is_some() => t.skipped += 1,
            Block::Eval(case) => {
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
                let outcome = match (got, case.fail) {
                    (Err(_), true) => Ok(()),
                    (Ok(_), true) => Err("expected an error".to_string()),
                    (Err(e), false) => Err(e.to_string()),
                    (Ok(v), false) => promqltest::check(&case, v),
                };
                match outcome {
                    Ok(()) => t.passed += 1,
                    Err(e) => {
                        t.failed += 1;
                        if dozor_promql::parse(&case.expr).is_err() {
                            t.unparsed += 1;
                        }
                        if verbose {
                            println!("FAIL {name}:{} {}\n     {e}", case.line, case.expr);
                        }
                    }
                }
            }
        }
    }
    t
}

#[tokio::main]
async fn main() {
    let verbose = std::env::args().any(|a| a == "-v");
    let Ok(dir) = std::env::var("DOZOR_PROMQLTEST_DIR") else {
        println!("set DOZOR_PROMQLTEST_DIR to Prometheus's promql/promqltest/testdata to measure");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("DOZOR_PROMQLTEST_DIR")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let mut total = Tally::default();
    println!(
        "{:<36} {:>7} {:>7} {:>9} {:>8}",
        "file", "passed", "failed", "unparsed", "skipped"
    );
    for f in files {
        let name = f.file_name().expect("name").to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).expect("test file");
        let t = run(&name, &text, verbose).await;
        println!(
            "{name:<36} {:>7} {:>7} {:>9} {:>8}",
            t.passed, t.failed, t.unparsed, t.skipped
        );
        total.passed += t.passed;
        total.failed += t.failed;
        total.unparsed += t.unparsed;
        total.skipped += t.skipped;
    }
    let checked = total.passed + total.failed;
    let parsed = checked - total.unparsed;
    let pct = |n: usize, d: usize| 100.0 * n as f64 / d.max(1) as f64;
    println!(
        "total: {} of {checked} evaluations pass ({:.1}%); of the {parsed} whose query parses, {:.1}%; {} skipped (native histograms, start timestamps, state sets)",
        total.passed,
        pct(total.passed, checked),
        pct(total.passed, parsed),
        total.skipped
    );
}
