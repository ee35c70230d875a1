//! Aggregation operators with `by` / `without`.

use super::eval::Evaluator;
use super::value::{format_float, signature, Metric, Sample, Value, NAME};
use super::{QueryError, Result};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};
use std::collections::HashMap;

/// Neumaier's compensated addition, as Prometheus's kahanSumInc.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

pub fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for v in values {
        (s, c) = kahan_inc(v, s, c);
    }
    if s.is_infinite() {
        s
    } else {
        s + c
    }
}

/// Mean as Prometheus 3 computes it: compensated sum / count, switching to
/// an incremental mean when the sum would overflow.
pub fn mean(values: &[f64]) -> f64 {
    let sum = kahan_sum(values.iter().copied());
    if sum.is_finite() || values.iter().any(|v| !v.is_finite()) {
        return sum / values.len() as f64;
    }
    let (mut m, mut c) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let n = (i + 1) as f64;
        let q = (n - 1.0) / n;
        (m, c) = kahan_inc(v / n, q * m, q * c);
    }
    m + c
}

/// Population variance (Welford).
pub fn variance(values: &[f64]) -> f64 {
    let (mut mean, mut m2) = (0.0, 0.0);
    for (i, v) in values.iter().enumerate() {
        let delta = v - mean;
        mean += delta / (i + 1) as f64;
        m2 += delta * (v - mean);
    }
    m2 / values.len() as f64
}

/// Prometheus's quantile over a set of values (linear interpolation).
/// NaN sorts before every number, as in Prometheus (`quantile(0.8,
/// {0, 1, NaN})` is 0.6), so one NaN does not make the upper quantiles NaN.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    values[lower as usize] * (1.0 - w) + values[upper as usize] * w
}

/// Prometheus's `labels.Hash`: xxHash64 over each name and value followed
/// by 0xff, in label order (with `__name__`).
fn labels_hash(m: &Metric) -> u64 {
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    for (k, v) in m {
        h.update(k.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

fn group_metric(m: &Metric, modifier: Option<&LabelModifier>) -> Metric {
    match modifier {
        Some(LabelModifier::Include(by)) => m
            .iter()
            .filter(|(k, _)| by.labels.iter().any(|l| l == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(without)) => m
            .iter()
            .filter(|(k, _)| *k != NAME && !without.labels.iter().any(|l| l == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => Metric::new(),
    }
}

/// `signature(&group_metric(m, modifier))`, written into `out`.
fn group_signature(m: &Metric, modifier: Option<&LabelModifier>, out: &mut String) {
    out.clear();
    for (k, v) in m {
        let kept = match modifier {
            Some(LabelModifier::Include(by)) => by.labels.iter().any(|l| l == k),
            Some(LabelModifier::Exclude(without)) => {
                k != NAME && !without.labels.iter().any(|l| l == k)
            }
            None => false,
        };
        if kept {
            out.push_str(k);
            out.push('\u{1}');
            out.push_str(v);
            out.push('\u{2}');
        }
    }
}

pub fn eval(ev: &Evaluator, a: &AggregateExpr, t: i64) -> Result<Value> {
    let op = a.op.to_string();
    let param = a.param.as_deref();
    let scalar_param = || -> Result<f64> {
        let p = param.ok_or_else(|| QueryError::BadData(format!("{op} needs a parameter")))?;
        ev.scalar(p, t)
    };
    if let Some(out) = fused(ev, a, &op, t)? {
        return Ok(Value::Vector(out));
    }
    let vs = ev.vector(&a.expr, t)?;
    let modifier = a.modifier.as_ref();

    if op == "limit_ratio" {
        let r = scalar_param()?;
        if r.is_nan() {
            return Err(QueryError::Execution("Ratio value is NaN".into()));
        }
        let r = r.clamp(-1.0, 1.0);
        // Prometheus's hash sampler: a series is in when its label hash,
        // as a fraction of u64's range, is below r (or, for a negative r,
        // at or above 1 + r), so r and r - 1 split a vector in two.
        return Ok(Value::Vector(
            vs.into_iter()
                .filter(|s| {
                    let offset = labels_hash(&s.metric) as f64 / u64::MAX as f64;
                    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
                })
                .map(|s| Sample { t, ..s })
                .collect(),
        ));
    }

    if op == "count_values" {
        let label = match param.map(|p| ev.eval(p, t)).transpose()? {
            Some(Value::String(s)) => s,
            _ => {
                return Err(QueryError::BadData(
                    "count_values needs a string parameter".into(),
                ))
            }
        };
        if !dozor_common::model::is_label_name(&label) {
            return Err(QueryError::BadData(format!("invalid label name {label:?}")));
        }
        let mut counts: Vec<(Metric, f64)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for s in &vs {
            let mut m = group_metric(&s.metric, modifier);
            m.insert(label.clone(), format_float(s.v));
            let sig = signature(&m);
            let i = *index.entry(sig).or_insert_with(|| {
                counts.push((m, 0.0));
                counts.len() - 1
            });
            counts[i].1 += 1.0;
        }
        return Ok(Value::Vector(
            counts
                .into_iter()
                .map(|(metric, v)| Sample { metric, t, v })
                .collect(),
        ));
    }

    // Groups in order of first appearance. A known group is found by its
    // signature written into one buffer: only a new group allocates.
    let mut groups: Vec<(Metric, Vec<Sample>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut key = String::new();
    for s in vs {
        group_signature(&s.metric, modifier, &mut key);
        let i = match index.get(key.as_str()) {
            Some(&i) => i,
            None => {
                groups.push((group_metric(&s.metric, modifier), Vec::new()));
                index.insert(key.clone(), groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[i].1.push(s);
    }

    if op == "topk" || op == "bottomk" || op == "limitk" {
        let k = scalar_param()?;
        if k.is_nan() {
            return Err(QueryError::Execution("Parameter value is NaN".into()));
        }
        let k = if k >= 1.0 {
            k.min(i64::MAX as f64) as usize
        } else {
            0
        };
        let mut out = Vec::new();
        for (_, mut members) in groups {
            // limitk keeps the first k of each group, as they came.
            if op == "limitk" {
                out.extend(members.into_iter().take(k).map(|s| Sample { t, ..s }));
                continue;
            }
            // NaN sorts last for both.
            members.sort_by(|x, y| {
                let (xv, yv) = (x.v, y.v);
                match (xv.is_nan(), yv.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if op == "topk" => yv.total_cmp(&xv),
                    _ => xv.total_cmp(&yv),
                }
            });
            out.extend(members.into_iter().take(k).map(|s| Sample { t, ..s }));
        }
        return Ok(Value::Vector(out));
    }

    let q = if op == "quantile" {
        Some(scalar_param()?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(groups.len());
    for (metric, members) in groups {
        let mut values: Vec<f64> = members.iter().map(|s| s.v).collect();
        let v = reduce(ev, &op, q, &mut values)?;
        out.push(Sample { metric, t, v });
    }
    Ok(Value::Vector(out))
}

/// One group's value.
fn reduce(ev: &Evaluator, op: &str, q: Option<f64>, values: &mut [f64]) -> Result<f64> {
    Ok(match op {
        "sum" => kahan_sum(values.iter().copied()),
        "avg" => mean(values),
        "count" => values.len() as f64,
        "group" => 1.0,
        "min" => values
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }),
        "max" => values
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }),
        "stdvar" => variance(values),
        "stddev" => variance(values).sqrt(),
        "quantile" => {
            let q = q.expect("parsed above");
            ev.notes.borrow_mut().quantile_out_of_range(q);
            quantile(q, values)
        }
        other => {
            return Err(QueryError::BadData(format!(
                "aggregation {other:?} is not supported"
            )))
        }
    })
}

/// `sum by (…) (rate(m[5m]))` and its kin, the commonest dashboard
/// query, without an instant vector in between: each series' value goes
/// straight into its group, so no label set is built per series and step
/// (the rate's, without its name, and the group's). Only where the answer
/// is the same by construction: a plain aggregation of a window function
/// over a selector naming one metric (so dropping the name cannot make
/// two series alike), not grouping by `__name__`.
fn fused(ev: &Evaluator, a: &AggregateExpr, op: &str, t: i64) -> Result<Option<Vec<Sample>>> {
    if !matches!(op, "sum" | "avg" | "count" | "group" | "min" | "max") || a.param.is_some() {
        return Ok(None);
    }
    let mut e = a.expr.as_ref();
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    let Expr::Call(c) = e else {
        return Ok(None);
    };
    let name = c.func.name;
    if !super::range_fns::WINDOW_FUNCTIONS.contains(&name) || c.args.args.len() != 1 {
        return Ok(None);
    }
    let Expr::MatrixSelector(ms) = c.args.args[0].as_ref() else {
        return Ok(None);
    };
    let one_metric = ms.vs.name.is_some()
        && ms.vs.matchers.or_matchers.is_empty()
        && ms.vs.matchers.matchers.iter().all(|m| m.name != NAME);
    let by_name = matches!(&a.modifier, Some(LabelModifier::Include(by)) if by.labels.iter().any(|l| l == NAME));
    if !one_metric || by_name {
        return Ok(None);
    }
    let modifier = a.modifier.as_ref();
    let mut groups: Vec<(Metric, Vec<f64>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut key = String::new();
    ev.each_window(&c.args.args[0], t, |metric, points, start, end| {
        let Some(v) = super::range_fns::window_value(ev, name, metric, points, start, end) else {
            return;
        };
        group_signature(metric, modifier, &mut key);
        let i = match index.get(key.as_str()) {
            Some(&i) => i,
            None => {
                groups.push((group_metric(metric, modifier), Vec::new()));
                index.insert(key.clone(), groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[i].1.push(v);
    })?;
    let mut out = Vec::with_capacity(groups.len());
    for (metric, mut values) in groups {
        let v = reduce(ev, op, None, &mut values)?;
        out.push(Sample { metric, t, v });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod signature_tests {
    use super::*;
    use promql_parser::label::Labels as ParserLabels;

    #[test]
    fn group_signature_is_the_signature_of_the_group_metric() {
        let m: Metric = [("__name__", "m"), ("a", "1"), ("b", "2"), ("c", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let by = LabelModifier::Include(ParserLabels::new(vec!["c", "a", "zz"]));
        let without = LabelModifier::Exclude(ParserLabels::new(vec!["b"]));
        let mut out = String::new();
        for modifier in [Some(&by), Some(&without), None] {
            group_signature(&m, modifier, &mut out);
            assert_eq!(out, signature(&group_metric(&m, modifier)));
        }
    }
}
