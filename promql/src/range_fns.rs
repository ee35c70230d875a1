//! Functions of range vectors: the rate family and `*_over_time`.

use super::aggregate::{kahan_sum, mean, quantile, variance};
use super::eval::Evaluator;
use super::value::{Metric, NAME};

/// Functions of one range-vector argument computed window by window.
pub const WINDOW_FUNCTIONS: [&str; 8] = [
    "rate", "increase", "delta", "irate", "idelta", "deriv", "resets", "changes",
];

/// One of [`WINDOW_FUNCTIONS`] over one series' window (`start`, `end`:
/// the range it extrapolates to), with the note Prometheus adds when a
/// rate's series does not look like a counter.
pub fn window_value(
    ev: &Evaluator,
    name: &str,
    metric: &Metric,
    points: &[(i64, f64)],
    start: i64,
    end: i64,
) -> Option<f64> {
    if matches!(name, "rate" | "increase" | "irate") {
        let series = metric.get(NAME).map_or("", |n| n.as_str());
        ev.notes.borrow_mut().possible_non_counter(series);
    }
    match name {
        "rate" => extrapolated_rate(points, start, end, true, true),
        "increase" => extrapolated_rate(points, start, end, true, false),
        "delta" => extrapolated_rate(points, start, end, false, false),
        "irate" => instant_delta(points, true),
        "idelta" => instant_delta(points, false),
        "deriv" => (points.len() >= 2).then(|| linear_regression(points, points[0].0).0),
        "resets" => Some(resets(points)),
        _ => Some(changes(points)),
    }
}

/// Prometheus 3's extrapolatedRate for rate, increase and delta.
/// `points` are in (range_start, range_end].
pub fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        let mut prev = first_v;
        for &(_, v) in &points[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_between = sampled / (points.len() - 1) as f64;
    let threshold = avg_between * 1.1;
    if to_start >= threshold {
        to_start = avg_between / 2.0;
    }
    if counter {
        // Counters cannot go below zero: do not extrapolate past the point
        // where the line would reach it.
        let mut to_zero = to_start;
        if result > 0.0 && first_v >= 0.0 {
            to_zero = sampled * (first_v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_between / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// irate (`rate` true) and idelta from the last two samples.
pub fn instant_delta(points: &[(i64, f64)], rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (pt, pv) = points[points.len() - 2];
    let (lt, lv) = points[points.len() - 1];
    let mut result = if rate && lv < pv { lv } else { lv - pv };
    let dt = lt - pt;
    if dt == 0 {
        return None;
    }
    if rate {
        result /= dt as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares slope and intercept at `intercept_t` (Prometheus's
/// linearRegression, with times in seconds relative to `intercept_t`).
pub fn linear_regression(points: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let n = points.len() as f64;
    let const_y = points.iter().all(|p| p.1 == points[0].1);
    let (mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0);
    for &(t, v) in points {
        let x = (t - intercept_t) as f64 / 1000.0;
        sx += x;
        sy += v;
        sxy += x * v;
        sx2 += x * x;
    }
    if const_y {
        return (0.0, points[0].1);
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

pub fn resets(points: &[(i64, f64)]) -> f64 {
    points.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64
}

pub fn changes(points: &[(i64, f64)]) -> f64 {
    points
        .windows(2)
        .filter(|w| !(w[0].1 == w[1].1 || (w[0].1.is_nan() && w[1].1.is_nan())))
        .count() as f64
}

/// The `*_over_time` family; None for an unknown name.
pub fn over_time(name: &str, points: &[(i64, f64)], q: Option<f64>) -> Option<f64> {
    let values = || points.iter().map(|p| p.1);
    Some(match name {
        "sum_over_time" => kahan_sum(values()),
        "avg_over_time" => mean(&values().collect::<Vec<_>>()),
        "count_over_time" => points.len() as f64,
        "min_over_time" => values().fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }),
        "max_over_time" => values().fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }),
        "last_over_time" => points.last()?.1,
        "first_over_time" => points.first()?.1,
        "present_over_time" => 1.0,
        "ts_of_first_over_time" => points.first()?.0 as f64 / 1000.0,
        "ts_of_last_over_time" => points.last()?.0 as f64 / 1000.0,
        // The last occurrence of the extreme; NaN only when all are NaN.
        "ts_of_max_over_time" => ts_of_extreme(points, |v, best| v >= best)?,
        "ts_of_min_over_time" => ts_of_extreme(points, |v, best| v <= best)?,
        "stdvar_over_time" => variance(&values().collect::<Vec<_>>()),
        "stddev_over_time" => variance(&values().collect::<Vec<_>>()).sqrt(),
        "quantile_over_time" => quantile(q?, &mut values().collect::<Vec<_>>()),
        "mad_over_time" => {
            let mut v: Vec<f64> = values().collect();
            let median = quantile(0.5, &mut v);
            let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
            quantile(0.5, &mut dev)
        }
        _ => return None,
    })
}

/// The time (seconds) of the sample `better` prefers, later ones winning
/// ties, as Prometheus's compareOverTime: NaN is kept only until a number
/// comes.
fn ts_of_extreme(points: &[(i64, f64)], better: impl Fn(f64, f64) -> bool) -> Option<f64> {
    let (mut best_t, mut best) = *points.first()?;
    for &(t, v) in &points[1..] {
        if best.is_nan() || better(v, best) {
            (best_t, best) = (t, v);
        }
    }
    Some(best_t as f64 / 1000.0)
}

/// Holt's linear smoothing as Prometheus's `double_exponential_smoothing`
/// (once `holt_winters`) computes it over a window's points.
pub fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> f64 {
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (i, p) in points.iter().enumerate().skip(1) {
        let x = sf * p.1;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    s1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolates_like_prometheus() {
        // A counter rising 1/s sampled every 10 s across a 60 s window.
        let pts: Vec<(i64, f64)> = (1..=6).map(|i| (i * 10_000, (i * 10) as f64)).collect();
        let r = extrapolated_rate(&pts, 0, 60_000, true, true).unwrap();
        assert!((r - 1.0).abs() < 1e-12, "{r}");
        let inc = extrapolated_rate(&pts, 0, 60_000, true, false).unwrap();
        assert!((inc - 60.0).abs() < 1e-9, "{inc}");
        // A reset adds the value before it.
        let reset = [(10_000, 5.0), (20_000, 10.0), (30_000, 2.0)];
        let raw = extrapolated_rate(&reset, 10_000, 30_000, true, false).unwrap();
        assert!((raw - 7.0).abs() < 1e-9, "{raw}");
        assert_eq!(extrapolated_rate(&pts[..1], 0, 60_000, true, true), None);
    }

    #[test]
    fn regression_and_counts() {
        let pts = [(0, 1.0), (1000, 3.0), (2000, 5.0)];
        let (slope, icpt) = linear_regression(&pts, 2000);
        assert!((slope - 2.0).abs() < 1e-12 && (icpt - 5.0).abs() < 1e-12);
        assert_eq!(resets(&[(0, 3.0), (1, 1.0), (2, 2.0), (3, 0.0)]), 2.0);
        assert_eq!(
            changes(&[(0, 1.0), (1, 1.0), (2, 2.0), (3, f64::NAN), (4, f64::NAN)]),
            2.0
        );
        assert_eq!(instant_delta(&[(0, 10.0), (2000, 4.0)], true), Some(2.0));
    }
}
