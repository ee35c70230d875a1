//! A chart's series as SVG path data in *data* coordinates: x is the step
//! index, y the value divided by 10^e (one power of ten per chart, so the
//! numbers stay short). The plot's `transform` maps them onto the axes, and
//! `dozor.js` reads the values for its tooltip back out of the same `d`
//! attribute: each point is sent once, and the chart is whole without
//! JavaScript.
//!
//! The shapes `dozor.js` parses (per run of present steps):
//! - line: `M k y L k y …`;
//! - area: the line, then `L kn base L k0 base Z`;
//! - stacked band: its top forwards, then its bottom backwards, then `Z`;
//!   a step's value is top minus bottom.

use std::fmt::Write;

/// Significant digits of a line's or an area's values: enough for a
/// tooltip's three, small in the page.
pub const DIGITS: i32 = 4;
/// A stacked band's edges: the value is the difference of two of them, so
/// they need more to keep its own four.
pub const STACKED_DIGITS: i32 = 7;

/// The power of ten a chart's values are divided by: its largest axis
/// value then lies in [1, 10).
pub fn exponent(y0: f64, y1: f64) -> i32 {
    let m = y0.abs().max(y1.abs());
    if m > 0.0 && m.is_finite() {
        m.log10().floor() as i32
    } else {
        0
    }
}

/// `v` to `digits` significant digits, as short as it can be written
/// (an exponent for tiny values).
pub fn num(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    let shift = digits - 1 - mag;
    // Scale by an exact power of ten and back, so the result is the double
    // nearest the rounded decimal and prints as that decimal.
    let r = if shift >= 0 {
        let p = 10f64.powi(shift);
        (v * p).round() / p
    } else {
        let p = 10f64.powi(-shift);
        (v / p).round() * p
    };
    if r.abs() < 1e-3 {
        format!("{r:e}")
    } else {
        format!("{r}")
    }
}

/// Line path data for runs of present points.
pub fn line_path(ys: &[Option<f64>], digits: i32) -> String {
    let mut d = String::new();
    let mut pen = false;
    for (k, y) in ys.iter().enumerate() {
        match y {
            Some(y) => {
                let _ = write!(d, "{}{k} {}", if pen { "L" } else { "M" }, num(*y, digits));
                pen = true;
            }
            None => pen = false,
        }
    }
    d
}

/// Runs of present steps: (first, one past the last).
fn runs<T>(v: &[Option<T>]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < v.len() {
        if v[k].is_none() {
            k += 1;
            continue;
        }
        let start = k;
        while k < v.len() && v[k].is_some() {
            k += 1;
        }
        out.push((start, k));
    }
    out
}

/// Closed areas from each run of values down to `base`.
pub fn area_path(ys: &[Option<f64>], base: f64, digits: i32) -> String {
    let mut d = String::new();
    for (a, b) in runs(ys) {
        for (j, y) in ys[a..b].iter().flatten().enumerate() {
            let pen = if j == 0 { "M" } else { "L" };
            let _ = write!(d, "{pen}{} {}", a + j, num(*y, digits));
        }
        let base = num(base, digits);
        let _ = write!(d, "L{} {base}L{a} {base}Z", b - 1);
    }
    d
}

/// Closed bands between each run's (bottom, top) pairs.
pub fn band_path(band: &[Option<(f64, f64)>], digits: i32) -> String {
    let mut d = String::new();
    for (a, b) in runs(band) {
        let run: Vec<(f64, f64)> = band[a..b].iter().flatten().copied().collect();
        for (j, (_, top)) in run.iter().enumerate() {
            let pen = if j == 0 { "M" } else { "L" };
            let _ = write!(d, "{pen}{} {}", a + j, num(*top, digits));
        }
        for (j, (bottom, _)) in run.iter().enumerate().rev() {
            let _ = write!(d, "L{} {}", a + j, num(*bottom, digits));
        }
        d.push('Z');
    }
    d
}

/// For stacked charts, (bottom, top) per step for each series in order.
pub fn stack(values: &[Vec<Option<f64>>]) -> Vec<Vec<Option<(f64, f64)>>> {
    let n = values.first().map_or(0, Vec::len);
    let mut base = vec![0.0; n];
    values
        .iter()
        .map(|vs| {
            vs.iter()
                .enumerate()
                .map(|(k, v)| {
                    v.map(|v| {
                        let b = base[k];
                        base[k] += v;
                        (b, b + v)
                    })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_keep_their_digits() {
        assert_eq!(num(8.589934592, 4), "8.59");
        assert_eq!(num(0.12345, 4), "0.1235");
        assert_eq!(num(-2.5, 4), "-2.5");
        assert_eq!(num(12345.0, 4), "12350");
        assert_eq!(num(1.23456e-7, 4), "1.235e-7");
        assert_eq!(num(0.0, 4), "0");
        assert_eq!(exponent(0.0, 8.6e9), 9);
        assert_eq!(exponent(-0.5, 0.25), -1);
        assert_eq!(exponent(0.0, 0.0), 0);
    }

    #[test]
    fn gaps_break_lines() {
        let d = line_path(&[Some(5.0), Some(6.0), None, Some(7.0)], DIGITS);
        assert_eq!(d, "M0 5L1 6M3 7");
    }

    #[test]
    fn areas_close_over_their_base() {
        let d = area_path(&[Some(4.0), Some(2.0), None, Some(1.5)], 0.0, DIGITS);
        assert_eq!(d, "M0 4L1 2L1 0L0 0ZM3 1.5L3 0L3 0Z");
    }

    #[test]
    fn bands_go_out_on_top_and_back_on_the_bottom() {
        let st = stack(&[
            vec![Some(1.0), Some(2.0), None],
            vec![Some(3.0), Some(3.0), Some(9.0)],
        ]);
        assert_eq!(st[1][0], Some((1.0, 4.0)));
        assert_eq!(st[1][2], Some((0.0, 9.0)));
        assert_eq!(band_path(&st[1], DIGITS), "M0 4L1 5L2 9L2 0L1 2L0 1Z");
    }
}
