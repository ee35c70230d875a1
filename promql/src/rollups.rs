//! Serving `*_over_time` from rollups instead of raw samples.
//!
//! Rollup buckets are left-open like PromQL windows (see
//! `storage::rollup`), so a window `(t - r, t]` whose ends sit on bucket
//! boundaries is exactly a run of buckets. A call qualifies when:
//! - the function is computable from min/max/sum/count/last
//!   ([`FUNCS`]);
//! - its argument is a plain matrix selector outside any subquery, so the
//!   evaluation times are the query's own steps;
//! - the range, and every evaluation time after `offset`/`@`, are
//!   multiples of the bucket width (1 h preferred, then 5 min);
//! - some of the windows lie below the rollup watermark, and no bucket
//!   there waits to be recomputed.
//!
//! The part of a window at or above the watermark is read raw, so answers
//! never lag ingest. Buckets count NaN samples apart from numbers and keep
//! a NaN last value, so a window holding NaN answers as Prometheus does:
//! NaN sums and averages, NaN counted, min and max over the numbers.

use super::plan::{self, at_ms, offset_ms, Loaded};
use super::value::Sample;
use super::Range;
use crate::rollup::{Coverage, Resolution};
use crate::source::RollupPoint;
use promql_parser::parser::{Call, Expr, VectorSelector};

pub const FUNCS: [&str; 7] = [
    "avg_over_time",
    "sum_over_time",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "last_over_time",
    "present_over_time",
];

/// A matrix selector the plan serves from rollups.
#[derive(Debug, Clone)]
pub struct Request {
    /// Address of the selector node in the evaluated AST.
    pub node: usize,
    pub key: String,
    pub res: Resolution,
    /// Buckets with `from <= b <= to` are read.
    pub from: i64,
    pub to: i64,
    /// Buckets below this are final; windows above read raw samples.
    pub complete_before: i64,
    /// The raw window the selector still needs, `[raw_from, raw_to]`.
    pub raw: Option<(i64, i64)>,
}

/// Buckets for one request, aligned with the selector's loaded series.
pub struct Served {
    pub key: String,
    pub width: i64,
    pub complete_before: i64,
    pub buckets: Vec<Vec<RollupPoint>>,
}

fn matrix_arg(c: &Call) -> Option<(&VectorSelector, i64)> {
    if !FUNCS.contains(&c.func.name) || c.args.args.len() != 1 {
        return None;
    }
    match c.args.args[0].as_ref() {
        Expr::MatrixSelector(ms) => Some((&ms.vs, ms.range.as_millis() as i64)),
        _ => None,
    }
}

/// Cheap pre-check, so queries that cannot use rollups skip reading the
/// coverage.
pub fn candidate(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => {
            matrix_arg(c).is_some_and(|(_, r)| r % Resolution::FiveMinutes.width_ms() == 0)
                || c.args.args.iter().any(|a| candidate(a))
        }
        Expr::Aggregate(a) => candidate(&a.expr),
        Expr::Binary(b) => candidate(&b.lhs) || candidate(&b.rhs),
        Expr::Paren(p) => candidate(&p.expr),
        Expr::Unary(u) => candidate(&u.expr),
        _ => false,
    }
}

/// Whether a call evaluated at the query's own steps can read rollups.
pub fn choose(c: &Call, r: Range, cov: &Coverage) -> Option<Request> {
    let (vs, range) = matrix_arg(c)?;
    let off = offset_ms(&vs.offset);
    // Reference times: the first and last evaluation, and their spacing.
    let (first, last, step) = match at_ms(&vs.at, r) {
        Some(at) => (at - off, at - off, 0),
        None => {
            let steps = if r.step_ms > 0 {
                (r.end_ms - r.start_ms) / r.step_ms
            } else {
                0
            };
            (
                r.start_ms - off,
                r.start_ms + steps * r.step_ms - off,
                if steps > 0 { r.step_ms } else { 0 },
            )
        }
    };
    for res in [Resolution::OneHour, Resolution::FiveMinutes] {
        let w = res.width_ms();
        if range < w || range % w != 0 || first.rem_euclid(w) != 0 || step % w != 0 {
            continue;
        }
        let from = first - range;
        let complete_before = cov.complete_before(res);
        let rolled_to = complete_before.min(last);
        if rolled_to <= from || cov.dirty_in(from, rolled_to) {
            continue;
        }
        return Some(Request {
            node: vs as *const VectorSelector as usize,
            key: plan::key(vs),
            res,
            from,
            to: rolled_to - w,
            complete_before,
            raw: (complete_before < last).then_some((complete_before, last)),
        });
    }
    None
}

/// Evaluates `name` over `(rt - range, rt]` for every series: buckets
/// below the watermark, raw samples above it.
pub fn eval(
    name: &str,
    served: &Served,
    loaded: &[Loaded],
    rt: i64,
    range: i64,
    t: i64,
    out: &mut Vec<Sample>,
) {
    let lo = rt - range;
    let split = served.complete_before.clamp(lo, rt);
    for (series, buckets) in loaded.iter().zip(&served.buckets) {
        let a = buckets.partition_point(|b| b.bucket_ms < lo);
        let z = buckets.partition_point(|b| b.bucket_ms + served.width <= split);
        let rolled = &buckets[a..z.max(a)];
        let clean = series.clean();
        let ra = clean.partition_point(|p| p.0 <= split);
        let rz = clean.partition_point(|p| p.0 <= rt);
        let raw = &clean[ra..rz.max(ra)];
        if let Some(v) = combine(name, rolled, raw) {
            let metric = if name == "last_over_time" {
                series.metric.clone()
            } else {
                super::value::without_name(&series.metric)
            };
            out.push(Sample { metric, t, v });
        }
    }
}

/// One window's value from its buckets and raw samples; None when empty.
fn combine(name: &str, rolled: &[RollupPoint], raw: &[(i64, f64)]) -> Option<f64> {
    let rolled_nan = rolled.iter().map(|b| b.nan).sum::<i64>();
    let count = rolled.iter().map(|b| b.count).sum::<i64>() + rolled_nan + raw.len() as i64;
    if count == 0 {
        return None;
    }
    // A NaN sample makes the sum NaN, as adding it would.
    let sum = || {
        let sums = rolled.iter().map(|b| b.sum).chain(raw.iter().map(|p| p.1));
        if rolled_nan > 0 {
            f64::NAN
        } else {
            super::aggregate::kahan_sum(sums)
        }
    };
    // Prometheus's min/max_over_time: a number replaces NaN, never the
    // other way round; buckets of NaN only have no number to offer.
    let numbers = || rolled.iter().filter(|b| b.count > 0);
    let min = |a: f64, b: f64| if a.is_nan() || b < a { b } else { a };
    let max = |a: f64, b: f64| if a.is_nan() || b > a { b } else { a };
    Some(match name {
        "sum_over_time" => sum(),
        "avg_over_time" => sum() / count as f64,
        "count_over_time" => count as f64,
        "min_over_time" => numbers()
            .map(|b| b.min)
            .chain(raw.iter().map(|p| p.1))
            .fold(f64::NAN, min),
        "max_over_time" => numbers()
            .map(|b| b.max)
            .chain(raw.iter().map(|p| p.1))
            .fold(f64::NAN, max),
        "last_over_time" => match raw.last() {
            Some(p) => p.1,
            None => rolled.iter().rev().find(|b| b.count + b.nan > 0)?.last,
        },
        _ => 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(b: i64, pts: &[f64]) -> RollupPoint {
        let numbers = || pts.iter().copied().filter(|v| !v.is_nan());
        RollupPoint {
            bucket_ms: b,
            min: numbers().fold(f64::NAN, f64::min),
            max: numbers().fold(f64::NAN, f64::max),
            sum: numbers().sum(),
            count: numbers().count() as i64,
            nan: pts.iter().filter(|v| v.is_nan()).count() as i64,
            last: *pts.last().unwrap(),
        }
    }

    #[test]
    fn buckets_and_raw_combine_like_the_raw_window() {
        let rolled = [bucket(0, &[1.0, 5.0]), bucket(300_000, &[2.0])];
        let raw = [(600_001, 9.0), (700_000, -1.0)];
        assert_eq!(combine("sum_over_time", &rolled, &raw), Some(16.0));
        assert_eq!(combine("count_over_time", &rolled, &raw), Some(5.0));
        assert_eq!(combine("avg_over_time", &rolled, &raw), Some(16.0 / 5.0));
        assert_eq!(combine("min_over_time", &rolled, &raw), Some(-1.0));
        assert_eq!(combine("max_over_time", &rolled, &raw), Some(9.0));
        assert_eq!(combine("last_over_time", &rolled, &raw), Some(-1.0));
        assert_eq!(combine("last_over_time", &rolled, &[]), Some(2.0));
        assert_eq!(combine("present_over_time", &[], &raw), Some(1.0));
        assert_eq!(combine("sum_over_time", &[], &[]), None);
    }

    #[test]
    fn nan_samples_count_and_poison_sums_as_in_prometheus() {
        let rolled = [
            bucket(0, &[1.0, f64::NAN, 5.0]),
            bucket(300_000, &[f64::NAN]),
        ];
        assert_eq!(combine("count_over_time", &rolled, &[]), Some(4.0));
        assert!(combine("sum_over_time", &rolled, &[]).unwrap().is_nan());
        assert!(combine("avg_over_time", &rolled, &[]).unwrap().is_nan());
        assert_eq!(combine("min_over_time", &rolled, &[]), Some(1.0));
        assert_eq!(
            combine("max_over_time", &rolled, &[(600_000, 2.0)]),
            Some(5.0)
        );
        assert!(combine("last_over_time", &rolled, &[]).unwrap().is_nan());
        assert_eq!(combine("present_over_time", &rolled[1..], &[]), Some(1.0));
        assert!(combine("min_over_time", &rolled[1..], &[])
            .unwrap()
            .is_nan());
    }
}
