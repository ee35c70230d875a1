//! histogram_quantile, histogram_quantiles and histogram_fraction over
//! classic (le-labelled) buckets.

use super::annotations::Annotations;
use super::eval::Evaluator;
use super::value::{signature, without_name, Metric, Sample, Value, NAME};
use super::{QueryError, Result};
use promql_parser::parser::Expr;
use std::collections::HashMap;

/// One histogram: its result labels, its name (for messages) and its
/// (upper bound, count) buckets.
type Group = (Metric, String, Vec<(f64, f64)>);

/// Float samples grouped into classic histograms (the labels without
/// `le`), as Prometheus's resetHistograms does for every histogram_*
/// function; a sample without a readable `le` is left out with a warning.
fn classic_groups(vs: Vec<Sample>, notes: &mut Annotations) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for s in vs {
        let raw = s.metric.get("le").map_or("", |v| v.as_str());
        let Some(le) = dozor_common::model::parse_value(raw) else {
            notes.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of {raw:?} for metric name {:?}",
                s.metric.get(NAME).map_or("", |n| n.as_str())
            ));
            continue;
        };
        // Grouped with the name, as Prometheus does, so `a_bucket` and
        // `b_bucket` stay two histograms; both lose the name in the result,
        // and the evaluator then refuses the two alike label sets instead
        // of one answer silently mixing both.
        let mut key = s.metric.clone();
        key.remove("le");
        let i = *index.entry(signature(&key)).or_insert_with(|| {
            let name = key.get(NAME).cloned().unwrap_or_default();
            groups.push((without_name(&key), name, Vec::new()));
            groups.len() - 1
        });
        groups[i].2.push((le, s.v));
    }
    groups
}

fn monotonicity_note(notes: &mut Annotations, name: &str) {
    notes.info(format!(
        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
    ))
}

/// The histogram_* functions, as functions::call hands them over.
pub fn call(ev: &Evaluator, name: &str, args: &[&Expr], t: i64) -> Result<Value> {
    let arg = |i: usize| -> Result<&Expr> {
        args.get(i)
            .copied()
            .ok_or_else(|| QueryError::BadData(format!("{name}: missing argument {}", i + 1)))
    };
    match name {
        "histogram_quantile" => {
            let q = ev.scalar(arg(0)?, t)?;
            ev.notes.borrow_mut().quantile_out_of_range(q);
            let vs = ev.vector(arg(1)?, t)?;
            let notes = &mut ev.notes.borrow_mut();
            let v = classic_groups(vs, notes)
                .into_iter()
                .map(|(metric, name, buckets)| Sample {
                    metric,
                    t,
                    v: bucket_quantile(q, buckets, || monotonicity_note(notes, &name)),
                })
                .collect();
            Ok(Value::Vector(v))
        }
        "histogram_quantiles" => {
            let vs = ev.vector(arg(0)?, t)?;
            let label = match ev.eval(arg(1)?, t)? {
                Value::String(l) if !l.is_empty() && !l.contains('\0') => l,
                other => {
                    return Err(QueryError::BadData(format!(
                        "histogram_quantiles: invalid label name {other:?}"
                    )))
                }
            };
            let mut qs = Vec::with_capacity(args.len().saturating_sub(2));
            for e in args.iter().skip(2) {
                let q = ev.scalar(e, t)?;
                ev.notes.borrow_mut().quantile_out_of_range(q);
                qs.push(q);
            }
            let notes = &mut ev.notes.borrow_mut();
            Ok(Value::Vector(histogram_quantiles(
                &label, &qs, vs, t, notes,
            )))
        }
        "histogram_fraction" => {
            let (lower, upper) = (ev.scalar(arg(0)?, t)?, ev.scalar(arg(1)?, t)?);
            let vs = ev.vector(arg(2)?, t)?;
            let notes = &mut ev.notes.borrow_mut();
            Ok(Value::Vector(histogram_fraction(
                lower, upper, vs, t, notes,
            )))
        }
        // Native-histogram functions: dozor stores float samples only, and
        // Prometheus ignores float samples in these, so the answer is empty.
        "histogram_avg" | "histogram_count" | "histogram_sum" | "histogram_stddev"
        | "histogram_stdvar" => {
            ev.vector(arg(0)?, t)?;
            Ok(Value::Vector(Vec::new()))
        }
        other => Err(QueryError::BadData(format!(
            "function {other:?} is not supported by dozor"
        ))),
    }
}

/// histogram_quantiles(v, "label", q…): one series per histogram and
/// quantile, the quantile written into `label` as Prometheus writes it
/// (OpenMetrics float text: "0.5", "1.0", "1e-05"), quantile by quantile.
fn histogram_quantiles(
    label: &str,
    qs: &[f64],
    vs: Vec<Sample>,
    t: i64,
    notes: &mut Annotations,
) -> Vec<Sample> {
    let groups = classic_groups(vs, notes);
    let mut out = Vec::with_capacity(groups.len() * qs.len());
    for &q in qs {
        let text = format_openmetrics_float(q);
        for (metric, name, buckets) in &groups {
            let mut metric = metric.clone();
            metric.insert(label.to_string(), text.clone());
            let v = bucket_quantile(q, buckets.clone(), || monotonicity_note(notes, name));
            out.push(Sample { metric, t, v });
        }
    }
    out
}

/// histogram_fraction over classic buckets: the share of observations
/// between `lower` and `upper`, interpolated linearly inside a bucket.
fn histogram_fraction(
    lower: f64,
    upper: f64,
    vs: Vec<Sample>,
    t: i64,
    notes: &mut Annotations,
) -> Vec<Sample> {
    classic_groups(vs, notes)
        .into_iter()
        .map(|(metric, _, buckets)| Sample {
            metric,
            t,
            v: bucket_fraction(lower, upper, buckets),
        })
        .collect()
}

/// Prometheus's BucketFraction. Unlike the quantile, counts are not made
/// monotonic; observations in the +Inf bucket sit at +Inf, and a first
/// bucket with a positive bound starts at 0 (at -Inf when its bound is 0
/// or below, so any bound inside it takes the whole bucket).
fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let merged = coalesce(buckets);
    let total = merged[merged.len() - 1].1;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut lower_rank, mut upper_rank) = (None, None);
    let mut rank = 0.0;
    let mut lb = if merged[0].0 <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, &(ub, count)) in merged.iter().enumerate() {
        if i > 0 {
            lb = merged[i - 1].0;
        }
        let at = |x: f64| {
            if lb == f64::NEG_INFINITY {
                count
            } else {
                rank + (count - rank) * (x - lb) / (ub - lb)
            }
        };
        if lower_rank.is_none() && lb >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lb >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && lb < lower && lower < ub {
            lower_rank = Some(at(lower));
        }
        if upper_rank.is_none() && lb < upper && upper < ub {
            upper_rank = Some(at(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = count;
    }
    let clamp = |r: Option<f64>| r.filter(|r| *r <= total).unwrap_or(total);
    (clamp(upper_rank) - clamp(lower_rank)) / total
}

/// Buckets with equal upper bounds summed into one.
fn coalesce(buckets: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (le, c) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += c,
            _ => merged.push((le, c)),
        }
    }
    merged
}

/// Prometheus's labels.FormatOpenMetricsFloat: Go's shortest `%g`
/// (exponent below 1e-4 and from 1e6 up, at least two exponent digits),
/// with ".0" added to a whole number.
pub fn format_openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let s = if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    };
    if s.contains(['.', 'e']) || s.contains("Inf") {
        s
    } else {
        s + ".0"
    }
}

/// `fixed` is called when counts had to be made monotonic.
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>, mut fixed: impl FnMut()) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Merge equal upper bounds, then force counts to be monotonic.
    let mut merged = coalesce(buckets);
    let mut max = f64::NEG_INFINITY;
    let mut forced = false;
    for b in merged.iter_mut() {
        if b.1 < max {
            b.1 = max;
            forced = true;
        }
        max = b.1;
    }
    if forced {
        fixed();
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|x| x.1 < rank);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_quantile_interpolates() {
        let b = vec![(0.1, 10.0), (0.5, 20.0), (f64::INFINITY, 20.0)];
        assert!((bucket_quantile(0.5, b.clone(), || {}) - 0.1).abs() < 1e-12);
        assert!((bucket_quantile(0.75, b.clone(), || {}) - 0.3).abs() < 1e-12);
        assert_eq!(bucket_quantile(1.0, b.clone(), || {}), 0.5);
        assert!(bucket_quantile(0.5, vec![(0.1, 1.0)], || {}).is_nan());
    }

    #[test]
    fn bucket_fraction_interpolates_and_bounds() {
        let b = vec![(1.0, 10.0), (f64::INFINITY, 30.0)];
        assert!((bucket_fraction(0.0, 0.5, b.clone()) - 5.0 / 30.0).abs() < 1e-12);
        assert_eq!(bucket_fraction(0.0, f64::INFINITY, b.clone()), 1.0);
        assert_eq!(bucket_fraction(1.0, 0.0, b.clone()), 0.0);
        assert!(bucket_fraction(0.0, 1.0, vec![(f64::INFINITY, 0.0)]).is_nan());
        assert!(bucket_fraction(0.0, 1.0, vec![(1.0, 3.0)]).is_nan());
        assert!(bucket_fraction(f64::NAN, 1.0, b).is_nan());
    }

    #[test]
    fn quantile_labels_are_openmetrics_floats() {
        let cases = [
            (0.5, "0.5"),
            (0.99, "0.99"),
            (1.0, "1.0"),
            (0.0, "0.0"),
            (1e-5, "1e-05"),
            (1e6, "1e+06"),
            (123456.0, "123456.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (f, want) in cases {
            assert_eq!(format_openmetrics_float(f), want, "{f}");
        }
    }
}
