//! The PromQL golden suite, in the spirit of Prometheus's promqltest:
//! files in tests/promql/*.test load series with values over time, then
//! evaluate expressions at given times and compare exact results
//! (labels, values; NaN equals NaN; floats to 1e-6 relative). Every file
//! runs on SQLite and on PostgreSQL.
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

mod support;

use dozor_common::{Sample as Point, SeriesBatch};
use dozor_server::promql::value::{stale_nan, Metric};
use dozor_server::promql::{Limits, Range, Value};
use dozor_server::storage::Store;
use promql_parser::parser::Expr;
use std::collections::BTreeMap;

fn duration_ms(s: &str) -> i64 {
    if s == "0" {
        return 0;
    }
    dozor_common::parse_duration(s)
        .unwrap_or_else(|e| panic!("bad duration {s}: {e}"))
        .as_millis() as i64
}

/// Expands promqltest value notation: `1 2 _ stale 0+10x3 5-1x2 _x2 7x2`.
fn expand(values: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for tok in values.split_whitespace() {
        if tok == "_" {
            out.push(None);
        } else if tok == "stale" {
            out.push(Some(stale_nan()));
        } else if let Some(n) = tok.strip_prefix("_x") {
            out.extend(std::iter::repeat_n(None, n.parse::<usize>().unwrap()));
        } else if let Some((head, n)) = tok.split_once('x') {
            let n: usize = n.parse().unwrap();
            let (start, step) = match head[1..].find(['+', '-']) {
                Some(i) => {
                    let (a, b) = head.split_at(i + 1);
                    (parse_num(a), parse_num(b))
                }
                None => (parse_num(head), 0.0),
            };
            out.extend((0..=n).map(|i| Some(start + step * i as f64)));
        } else {
            out.push(Some(parse_num(tok)));
        }
    }
    out
}

fn parse_num(s: &str) -> f64 {
    dozor_common::model::parse_value(s).unwrap_or_else(|| panic!("bad number {s:?}"))
}

/// `name{a="b"}` or `{a="b"}` → metric (with __name__ when named).
fn parse_metric(s: &str) -> Metric {
    let mut m = Metric::new();
    if s == "{}" {
        return m;
    }
    let expr = promql_parser::parser::parse(s).unwrap_or_else(|e| panic!("bad series {s}: {e}"));
    let Expr::VectorSelector(vs) = expr else {
        panic!("not a selector: {s}")
    };
    if let Some(n) = vs.name {
        m.insert("__name__".into(), n);
    }
    for matcher in vs.matchers.matchers {
        m.insert(matcher.name, matcher.value);
    }
    m
}

/// Splits `metric{...} rest` at the end of the selector.
fn split_series(line: &str) -> (&str, &str) {
    match line.find('}') {
        Some(i) => (line[..=i].trim(), line[i + 1..].trim()),
        None => line.split_once(char::is_whitespace).unwrap_or((line, "")),
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    diff <= 1e-6 * a.abs().max(b.abs()) || diff < 1e-12
}

struct Case {
    line: usize,
    expr: String,
    range: Range,
    instant: bool,
    fail: bool,
    ordered: bool,
    expected: Vec<(Option<Metric>, Vec<Option<f64>>)>,
}

async fn load(store: &Store, step: i64, lines: &[&str]) {
    let mut batch = Vec::new();
    for l in lines {
        let (series, values) = split_series(l);
        let mut metric = parse_metric(series);
        let name = metric
            .remove("__name__")
            .expect("loaded series need a name");
        let points: Vec<Point> = expand(values)
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| Point::new(i as i64 * step, v)))
            .collect();
        batch.push(SeriesBatch::new(name, metric, points));
    }
    store.append(&batch, support::now_ms()).await.expect("load");
}

fn parse_cases(text: &str) -> (Vec<(i64, Vec<String>)>, Vec<Case>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut loads = Vec::new();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body = || {
            let mut v = Vec::new();
            let mut j = i;
            while j < lines.len()
                && lines[j].starts_with(char::is_whitespace)
                && !lines[j].trim().is_empty()
            {
                v.push(lines[j].trim().to_string());
                j += 1;
            }
            (v, j)
        };
        if let Some(step) = line.strip_prefix("load ") {
            let (v, j) = body();
            loads.push((duration_ms(step.trim()), v));
            i = j;
        } else if let Some(rest) = line.strip_prefix("eval") {
            let (kind, rest) = rest.split_once(' ').unwrap();
            let fail = kind == "_fail";
            let ordered = kind == "_ordered";
            let (range, instant, expr) = if let Some(r) = rest.strip_prefix("instant at ") {
                let (t, e) = r.split_once(' ').unwrap();
                let t = duration_ms(t);
                (
                    Range {
                        start_ms: t,
                        end_ms: t,
                        step_ms: 0,
                    },
                    true,
                    e,
                )
            } else {
                let r = rest.strip_prefix("range from ").expect("instant or range");
                let (from, r) = r.split_once(" to ").unwrap();
                let (to, r) = r.split_once(" step ").unwrap();
                let (step, e) = r.split_once(' ').unwrap();
                (
                    Range {
                        start_ms: duration_ms(from),
                        end_ms: duration_ms(to),
                        step_ms: duration_ms(step),
                    },
                    false,
                    e,
                )
            };
            let (v, j) = body();
            let expected = v
                .iter()
                .map(|l| {
                    if l.starts_with(|c: char| {
                        c.is_ascii_digit() || c == '-' || c == '+' || c == 'N' || c == 'I'
                    }) && !l.contains('{')
                    {
                        (None, expand(l))
                    } else {
                        let (s, vals) = split_series(l);
                        (Some(parse_metric(s)), expand(vals))
                    }
                })
                .collect();
            cases.push(Case {
                line: i,
                expr: expr.to_string(),
                range,
                instant,
                fail,
                ordered,
                expected,
            });
            i = j;
        } else {
            panic!("line {i}: cannot parse {line:?}");
        }
    }
    (loads, cases)
}

fn check(case: &Case, got: Value) -> Result<(), String> {
    let fmt = |m: &Option<Metric>| format!("{m:?}");
    match got {
        Value::Scalar(v) => match case.expected.as_slice() {
            [(None, vals)] if vals.len() == 1 && close(vals[0].unwrap(), v) => Ok(()),
            _ => Err(format!("got scalar {v}, want {:?}", case.expected)),
        },
        Value::Vector(vs) => {
            let got: Vec<(Metric, f64)> = vs.into_iter().map(|s| (s.metric, s.v)).collect();
            if got.len() != case.expected.len() {
                return Err(format!(
                    "got {} samples {got:?}, want {}",
                    got.len(),
                    case.expected.len()
                ));
            }
            for (k, (m, vals)) in case.expected.iter().enumerate() {
                let want = vals[0].expect("instant values are numbers");
                let found = if case.ordered {
                    got.get(k).filter(|g| Some(&g.0) == m.as_ref())
                } else {
                    got.iter().find(|g| Some(&g.0) == m.as_ref())
                };
                match found {
                    Some((_, v)) if close(*v, want) => {}
                    Some((_, v)) => return Err(format!("{}: got {v}, want {want}", fmt(m))),
                    None => return Err(format!("missing {} in {got:?}", fmt(m))),
                }
            }
            Ok(())
        }
        Value::Matrix(series) => {
            let steps: Vec<i64> = (0..)
                .map(|i| case.range.start_ms + i * case.range.step_ms.max(1))
                .take_while(|t| *t <= case.range.end_ms)
                .collect();
            let got: BTreeMap<Metric, Vec<(i64, f64)>> =
                series.into_iter().map(|s| (s.metric, s.points)).collect();
            if got.len() != case.expected.len() {
                return Err(format!(
                    "got {} series {got:?}, want {}",
                    got.len(),
                    case.expected.len()
                ));
            }
            for (m, vals) in &case.expected {
                let m = m.clone().unwrap_or_default();
                let Some(points) = got.get(&m) else {
                    return Err(format!("missing {m:?} in {got:?}"));
                };
                let want: Vec<(i64, f64)> = steps
                    .iter()
                    .zip(vals)
                    .filter_map(|(t, v)| v.map(|v| (*t, v)))
                    .collect();
                let same = points.len() == want.len()
                    && points
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
                if !same {
                    return Err(format!("{m:?}: got {points:?}, want {want:?}"));
                }
            }
            Ok(())
        }
        Value::String(s) => Err(format!("got string {s:?}")),
    }
}

async fn run_file(store: Store, path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let (loads, cases) = parse_cases(&text);
    for (step, lines) in &loads {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        load(&store, *step, &refs).await;
    }
    let engine = dozor_server::storage::engine(&store, Limits::default());
    let mut failures = Vec::new();
    for case in &cases {
        let got = if case.instant {
            engine.instant(&case.expr, case.range.start_ms).await
        } else {
            engine.range(&case.expr, case.range).await
        };
        let name = path.file_name().unwrap().to_string_lossy();
        match (got, case.fail) {
            (Err(_), true) => {}
            (Ok(v), true) => failures.push(format!(
                "{name}:{} {}: expected an error, got {v:?}",
                case.line, case.expr
            )),
            (Err(e), false) => failures.push(format!("{name}:{} {}: {e}", case.line, case.expr)),
            (Ok(v), false) => {
                if let Err(e) = check(case, v) {
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
