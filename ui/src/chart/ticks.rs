//! Axis ticks and the query step: 1-2-5 value steps (in powers of 1024 for
//! IEC units) and time ticks aligned to whole minutes, hours or days.

/// Most points a series gets on a chart; the step follows from it.
pub const MAX_POINTS: i64 = 300;

/// Steps a chart may query at. Multiples of 5 min and 1 h let
/// `*_over_time` read rollups.
const STEPS_MS: [i64; 17] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 86_400_000,
];

/// The smallest nice step giving at most [`MAX_POINTS`] points over the
/// range, and not finer than `min_step_ms` (the collection interval).
pub fn choose_step(range_ms: i64, min_step_ms: i64) -> i64 {
    let want = (range_ms / MAX_POINTS).max(min_step_ms).max(1);
    STEPS_MS
        .iter()
        .copied()
        .find(|s| *s >= want)
        .unwrap_or_else(|| (want + 86_399_999) / 86_400_000 * 86_400_000)
}

/// Value ticks covering `[lo, hi]`, about `target` of them, on 1-2-5 steps
/// of `base` powers (10 for most units; 1024-scaled for bytes). Returns the
/// ticks; the first is <= lo and the last >= hi.
pub fn value_ticks(lo: f64, hi: f64, target: usize, base: f64) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        (lo - lo.abs() * 0.1, hi + hi.abs() * 0.1)
    };
    // For IEC units, pick the power of 1024 the range lives in and do 1-2-5
    // steps of that, so ticks read 256 MiB, 512 MiB rather than 488.3 MiB.
    let scale = if base == 1024.0 {
        let mut s = 1.0;
        while (hi - lo) / s >= 1024.0 {
            s *= 1024.0;
        }
        s
    } else {
        1.0
    };
    let raw = (hi - lo) / scale / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        * scale;
    let first = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // Multiply instead of adding so errors do not accumulate.
        let v = first + i as f64 * step;
        // Round away binary noise (0.6) at the step's scale.
        let p = 10f64.powi(6 - step.log10().floor() as i32);
        let v = (v * p).round() / p;
        let v = if v == 0.0 { 0.0 } else { v };
        out.push(v);
        if v >= hi || out.len() > 50 {
            break;
        }
        i += 1;
    }
    out
}

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const TIME_STEPS: [i64; 19] = [
    1_000,
    5_000,
    10_000,
    15_000,
    30_000,
    MIN,
    2 * MIN,
    5 * MIN,
    10 * MIN,
    15 * MIN,
    30 * MIN,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
];

/// Time ticks in `[start, end]`: multiples of a step from [`TIME_STEPS`]
/// (UTC), at most `max` of them, with labels.
pub fn time_ticks(start: i64, end: i64, max: usize) -> Vec<(i64, String)> {
    let span = (end - start).max(1);
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| span / s < max as i64)
        .unwrap_or_else(|| (span / max as i64 + DAY - 1) / DAY * DAY);
    let mut t = start.div_euclid(step) * step;
    if t < start {
        t += step;
    }
    let mut out = Vec::new();
    while t <= end {
        out.push((t, time_label(t, step)));
        t += step;
    }
    out
}

/// Civil date from days since the epoch (Howard Hinnant's algorithm).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn time_label(t: i64, step: i64) -> String {
    let (_, mo, d) = civil(t.div_euclid(DAY));
    let in_day = t.rem_euclid(DAY);
    let (h, m, s) = (in_day / HOUR, in_day % HOUR / MIN, in_day % MIN / 1000);
    if step >= DAY || (in_day == 0 && step >= HOUR) {
        format!("{mo:02}-{d:02}")
    } else if step < MIN {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}

/// `YYYY-MM-DD HH:MM:SS` UTC, for tooltips, tables and the range picker.
pub fn datetime(t_ms: i64) -> String {
    let (y, mo, d) = civil(t_ms.div_euclid(DAY));
    let in_day = t_ms.rem_euclid(DAY);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        in_day / HOUR,
        in_day % HOUR / MIN,
        in_day % MIN / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_ticks_use_1_2_5_steps() {
        assert_eq!(
            value_ticks(0.0, 87.0, 5, 10.0),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            value_ticks(0.0, 1.0, 5, 10.0),
            vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(
            value_ticks(-3.0, 7.0, 5, 10.0),
            vec![-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]
        );
        assert_eq!(
            value_ticks(0.0, 0.0, 5, 10.0),
            vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        );
        assert_eq!(
            value_ticks(0.0, 9_000.0, 4, 10.0),
            vec![0.0, 2500.0, 5000.0, 7500.0, 10000.0]
        );
    }

    #[test]
    fn byte_ticks_step_in_powers_of_1024() {
        const MIB: f64 = 1024.0 * 1024.0;
        assert_eq!(
            value_ticks(0.0, 900.0 * MIB, 4, 1024.0),
            vec![0.0, 250.0 * MIB, 500.0 * MIB, 750.0 * MIB, 1000.0 * MIB]
        );
    }

    #[test]
    fn time_ticks_align_to_round_times() {
        // 10:07 to 11:07 UTC on 2025-11-22: every 10 minutes on the 10s.
        let day = 20_414 * DAY;
        let t = time_ticks(day + 10 * HOUR + 7 * MIN, day + 11 * HOUR + 7 * MIN, 8);
        let labels: Vec<&str> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            labels,
            ["10:10", "10:20", "10:30", "10:40", "10:50", "11:00"]
        );
        assert_eq!(t[0].0, day + 10 * HOUR + 10 * MIN);
        // A week: one tick a day at midnight, labelled by date.
        let w = time_ticks(day - 7 * DAY + HOUR, day + HOUR, 8);
        assert_eq!(w.len(), 7);
        assert_eq!(w[0].1, "11-16");
        assert_eq!(w.last().unwrap().1, "11-22");
        // Seconds for short ranges.
        let s = time_ticks(day, day + 60_000, 8);
        assert_eq!(s[1].1, "00:00:10");
    }

    #[test]
    fn steps_keep_points_at_or_below_300() {
        assert_eq!(choose_step(3_600_000, 15_000), 15_000);
        assert_eq!(choose_step(6 * 3_600_000, 15_000), 120_000);
        assert_eq!(choose_step(86_400_000, 15_000), 300_000);
        assert_eq!(choose_step(7 * 86_400_000, 15_000), 3_600_000);
        assert_eq!(choose_step(30 * 86_400_000, 15_000), 10_800_000);
        assert_eq!(choose_step(15 * 60_000, 15_000), 15_000);
        for range in [15 * MIN, HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 400 * DAY] {
            assert!(range / choose_step(range, 15_000) <= MAX_POINTS, "{range}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_414), (2025, 11, 22));
        assert_eq!(datetime(1_700_000_000_000), "2023-11-14 22:13:20");
    }
}
