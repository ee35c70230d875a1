//! histogram_quantile over classic (le-labelled) buckets.

use super::annotations::Annotations;
use super::value::{signature, without_name, Metric, Sample, NAME};
use super::Result;
use std::collections::HashMap;

/// One histogram: its result labels, its name (for messages) and its
/// (upper bound, count) buckets.
type Group = (Metric, String, Vec<(f64, f64)>);

/// Classic-bucket histogram_quantile, as Prometheus's BucketQuantile.
pub fn histogram_quantile(
    q: f64,
    vs: Vec<Sample>,
    t: i64,
    notes: &mut Annotations,
) -> Result<Vec<Sample>> {
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
    Ok(groups
        .into_iter()
        .map(|(metric, name, buckets)| Sample {
            metric,
            t,
            v: bucket_quantile(q, buckets, || {
                notes.info(format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"
                ))
            }),
        })
        .collect())
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
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (le, c) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += c,
            _ => merged.push((le, c)),
        }
    }
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
}
