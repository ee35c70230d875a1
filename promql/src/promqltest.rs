//! Prometheus's promqltest file format, read into plain data: `load`
//! blocks of series and values over time, `clear`, and `eval` cases with
//! their expected results. dozor's golden suite and the conformance run
//! over Prometheus's own test files both read it here.
//!
//! Understood: `load <step>` (values `1 2 _ stale 0+10x3 5-1x2 _x2 7x2`),
//! `clear`, `eval instant at <t> <expr>`, `eval range from <t> to <t> step
//! <d> <expr>`, the `eval_fail`, `eval_ordered`, `eval_warn`, `eval_info`
//! spellings and Prometheus 3's `expect fail|ordered|warn|info|…` lines.
//! Native-histogram values (`{{…}}`) are not: such series and cases are
//! marked, for a runner to skip.

use crate::value::{stale_nan, Metric, Value};
use promql_parser::parser::Expr;
use std::collections::BTreeMap;

/// A time or duration in milliseconds: `0`, `5m`, `1h30m`, `-1m`.
pub fn duration_ms(s: &str) -> Result<i64, String> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let ms = if s == "0" {
        0
    } else if let Ok(secs) = s.parse::<f64>() {
        (secs * 1000.0) as i64
    } else {
        dozor_common::parse_duration(s)
            .map_err(|e| format!("bad duration {s}: {e}"))?
            .as_millis() as i64
    };
    Ok(if neg { -ms } else { ms })
}

fn number(s: &str) -> Result<f64, String> {
    dozor_common::model::parse_value(s).ok_or_else(|| format!("bad number {s:?}"))
}

/// Expands promqltest value notation; None is a missing sample (`_`).
pub fn expand(values: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in values.split_whitespace() {
        if tok == "_" {
            out.push(None);
        } else if tok == "stale" {
            out.push(Some(stale_nan()));
        } else if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad count in {tok}"))?;
            out.extend(std::iter::repeat_n(None, n));
        } else if let Some((head, n)) = tok.split_once('x').filter(|(h, _)| !h.is_empty()) {
            let n: usize = n.parse().map_err(|_| format!("bad count in {tok}"))?;
            let (start, step) = match head[1..].find(['+', '-']) {
                Some(i) => {
                    let (a, b) = head.split_at(i + 1);
                    (number(a)?, number(b)?)
                }
                None => (number(head)?, 0.0),
            };
            out.extend((0..=n).map(|i| Some(start + step * i as f64)));
        } else {
            out.push(Some(number(tok)?));
        }
    }
    Ok(out)
}

/// `name{a="b"}` or `{a="b"}` → its labels (with `__name__` when named).
pub fn metric(s: &str) -> Result<Metric, String> {
    let mut m = Metric::new();
    if s == "{}" {
        return Ok(m);
    }
    let expr = promql_parser::parser::parse(s).map_err(|e| format!("bad series {s}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("not a selector: {s}"));
    };
    if let Some(n) = vs.name {
        m.insert("__name__".into(), n);
    }
    for matcher in vs.matchers.matchers {
        m.insert(matcher.name, matcher.value);
    }
    Ok(m)
}

/// Splits `metric{...} rest` at the end of the selector.
pub fn split_series(line: &str) -> (&str, &str) {
    match line.rfind('}') {
        Some(i) => (line[..=i].trim(), line[i + 1..].trim()),
        None => line.split_once(char::is_whitespace).unwrap_or((line, "")),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A series (or an unnamed scalar-like row) and its values by step.
    Series(Option<Metric>, Vec<Option<f64>>),
    Str(String),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub line: usize,
    pub expr: String,
    /// (start, end, step) in ms; an instant case has start = end, step 0.
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    pub instant: bool,
    pub fail: bool,
    pub ordered: bool,
    /// `expect range vector from A to B step S`: the times (ms) an instant
    /// query's range-vector result is listed at.
    pub range_vector: Option<(i64, i64, i64)>,
    pub expected: Vec<Expected>,
    /// Why a runner cannot check it (native histograms), if it cannot.
    pub unsupported: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub enum Block {
    /// Step, then (labels, values) per series; series with native-histogram
    /// values are left out and counted.
    Load(i64, Vec<(Metric, Vec<Option<f64>>)>, usize),
    Clear,
    Eval(Case),
}

/// The indented lines after line `i`.
fn body(lines: &[&str], mut i: usize) -> (Vec<String>, usize) {
    let mut v = Vec::new();
    while i < lines.len() && lines[i].starts_with(char::is_whitespace) {
        let l = lines[i].trim();
        if l.is_empty() {
            break;
        }
        if !l.starts_with('#') {
            v.push(l.to_string());
        }
        i += 1;
    }
    (v, i)
}

fn eval_case(line_no: usize, kind: &str, rest: &str, body: &[String]) -> Result<Case, String> {
    let mut fail = kind == "_fail";
    let mut ordered = kind == "_ordered";
    let (instant, start_ms, end_ms, step_ms, expr) =
        if let Some(r) = rest.strip_prefix("instant at ") {
            let (t, e) = r.split_once(' ').ok_or("no expression")?;
            let t = duration_ms(t)?;
            (true, t, t, 0, e)
        } else {
            let r = rest.strip_prefix("range from ").ok_or("instant or range")?;
            let (from, r) = r.split_once(" to ").ok_or("no `to`")?;
            let (to, r) = r.split_once(" step ").ok_or("no `step`")?;
            let (step, e) = r.split_once(' ').ok_or("no expression")?;
            (
                false,
                duration_ms(from)?,
                duration_ms(to)?,
                duration_ms(step)?,
                e,
            )
        };
    let mut expected = Vec::new();
    let mut unsupported = None;
    let mut range_vector = None;
    for l in body {
        if let Some(what) = l.strip_prefix("expect") {
            match what.split_whitespace().next() {
                Some("fail") => fail = true,
                Some("range") => {
                    let r = what.trim_start().strip_prefix("range vector from ");
                    let r = r.ok_or("expect range vector: no `from`")?;
                    let (from, r) = r.split_once(" to ").ok_or("no `to`")?;
                    let (to, step) = r.split_once(" step ").ok_or("no `step`")?;
                    range_vector = Some((
                        duration_ms(from)?,
                        duration_ms(to)?,
                        duration_ms(step.trim())?,
                    ));
                }
                Some("ordered") => ordered = true,
                // `expect string Foo`: the rest after one space, as is.
                Some("string") => {
                    let rest = what.trim_start().strip_prefix("string").unwrap_or("");
                    expected.push(Expected::Str(
                        rest.strip_prefix(' ').unwrap_or(rest).to_string(),
                    ));
                }
                _ => {}
            }
            continue;
        }
        if l.contains("{{") {
            unsupported = Some("native histograms");
            continue;
        }
        if let Some(s) = l.strip_prefix('"') {
            expected.push(Expected::Str(s.trim_end_matches('"').to_string()));
            continue;
        }
        let bare = l.starts_with(|c: char| c.is_ascii_digit() || "-+._NIi".contains(c))
            && !l.contains('{')
            && l.split_whitespace().all(|t| expand(t).is_ok());
        let row = if bare {
            expand(l).map(|v| Expected::Series(None, v))
        } else {
            let (s, vals) = split_series(l);
            metric(s).and_then(|m| Ok(Expected::Series(Some(m), expand(vals)?)))
        };
        // Values outside dozor's data model (state sets, …): not checkable.
        match row {
            Ok(e) => expected.push(e),
            Err(_) => unsupported = Some("expects values dozor cannot hold"),
        }
    }
    Ok(Case {
        line: line_no,
        expr: expr.to_string(),
        start_ms,
        end_ms,
        step_ms,
        instant,
        fail,
        ordered,
        range_vector,
        expected,
        unsupported,
    })
}

/// Reads a file; a line it cannot read is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    // Names of the native-histogram series left out since the last clear.
    let mut native_names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let line_no = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("line {line_no}: {e}");
        if line == "clear" {
            native_names.clear();
            out.push(Block::Clear);
        } else if let Some(rest) = line.strip_prefix("load") {
            // `load_with_nhcb` also turns classic buckets into native
            // histograms: those series are left out like native ones.
            let nhcb = rest.starts_with("_with_nhcb");
            let step = rest
                .trim_start_matches("_with_nhcb")
                .split_whitespace()
                .next()
                .ok_or_else(|| at("no step".into()))?;
            let (rows, j) = body(&lines, i);
            i = j;
            let mut series = Vec::new();
            let mut native = 0;
            for r in rows {
                let (s, vals) = split_series(&r);
                let read = metric(s).and_then(|m| Ok((m, expand(vals)?)));
                match read {
                    // `load_with_nhcb` keeps the classic series as floats
                    // too; only the bare histogram name is native.
                    Ok(row) if nhcb && s.contains("_bucket") => {
                        let name = s.split(['{', ' ']).next().unwrap_or_default();
                        native_names.push(name.trim_end_matches("_bucket").to_string());
                        series.push(row)
                    }
                    Ok(row) if !r.contains("{{") => series.push(row),
                    // Native histograms, start timestamps (`@st`), state
                    // sets: not dozor's data model. Cases reading them are
                    // marked below.
                    _ => {
                        native += 1;
                        let name = s.split(['{', ' ']).next().unwrap_or_default();
                        let name = name.trim_end_matches("_bucket");
                        if !name.is_empty() {
                            native_names.push(name.to_string());
                        }
                    }
                }
            }
            out.push(Block::Load(duration_ms(step).map_err(at)?, series, native));
        } else if let Some(rest) = line.strip_prefix("eval") {
            let (kind, rest) = rest.split_once(' ').ok_or_else(|| at("bad eval".into()))?;
            let (rows, j) = body(&lines, i);
            i = j;
            let mut case = eval_case(line_no, kind, rest, &rows).map_err(at)?;
            // Its inputs may include the native histograms left out.
            if native_names.iter().any(|n| mentions(&case.expr, n)) {
                case.unsupported
                    .get_or_insert("reads series dozor cannot hold");
            }
            out.push(Block::Eval(case));
        } else {
            return Err(at(format!("cannot read {line:?}")));
        }
    }
    Ok(out)
}

/// Whether `expr` names `name` as a whole word (`h` but not `h_bucket`).
fn mentions(expr: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    expr.match_indices(name).any(|(i, _)| {
        let before = expr[..i].chars().next_back();
        let after = expr[i + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs()) || (a - b).abs() < 1e-12
}

/// Whether `got` is what the case expects, as promqltest compares: labels,
/// values to 1e-6 relative (NaN equals NaN), order when asked.
pub fn check(case: &Case, got: Value) -> Result<(), String> {
    let series = |e: &Expected| match e {
        Expected::Series(m, v) => Some((m.clone(), v.clone())),
        Expected::Str(_) => None,
    };
    let want: Vec<(Option<Metric>, Vec<Option<f64>>)> =
        case.expected.iter().filter_map(series).collect();
    match got {
        Value::String(s) => match case.expected.as_slice() {
            [Expected::Str(w)] if *w == s => Ok(()),
            _ => Err(format!("got string {s:?}")),
        },
        Value::Scalar(v) => match want.as_slice() {
            [(None, vals)] if vals.len() == 1 && vals[0].is_some_and(|w| close(w, v)) => Ok(()),
            _ => Err(format!("got scalar {v}, want {want:?}")),
        },
        Value::Vector(vs) => {
            if vs.len() != want.len() {
                return Err(format!("got {} samples, want {}", vs.len(), want.len()));
            }
            for (k, (m, vals)) in want.iter().enumerate() {
                let w = vals.first().copied().flatten().ok_or("no expected value")?;
                let m = m.clone().unwrap_or_default();
                let found = if case.ordered {
                    vs.get(k).filter(|s| s.metric == m)
                } else {
                    vs.iter().find(|s| s.metric == m)
                };
                match found {
                    Some(s) if close(s.v, w) => {}
                    Some(s) => return Err(format!("{m:?}: got {}, want {w}", s.v)),
                    None => return Err(format!("missing {m:?}")),
                }
            }
            Ok(())
        }
        Value::Matrix(ms) => {
            let (start, end, step) =
                case.range_vector
                    .unwrap_or((case.start_ms, case.end_ms, case.step_ms));
            let steps: Vec<i64> = (0..)
                .map(|i| start + i * step.max(1))
                .take_while(|t| *t <= end)
                .collect();
            let got: BTreeMap<Metric, Vec<(i64, f64)>> =
                ms.into_iter().map(|s| (s.metric, s.points)).collect();
            if got.len() != want.len() {
                return Err(format!("got {} series, want {}", got.len(), want.len()));
            }
            for (m, vals) in &want {
                let m = m.clone().unwrap_or_default();
                let points = got.get(&m).ok_or_else(|| format!("missing {m:?}"))?;
                let w: Vec<(i64, f64)> = steps
                    .iter()
                    .zip(vals)
                    .filter_map(|(t, v)| v.map(|v| (*t, v)))
                    .collect();
                let same = points.len() == w.len()
                    && points
                        .iter()
                        .zip(&w)
                        .all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
                if !same {
                    return Err(format!("{m:?}: got {points:?}, want {w:?}"));
                }
            }
            Ok(())
        }
    }
}
