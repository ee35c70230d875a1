//! Timestamps for samples taken on an interval, aligned the way Prometheus
//! aligns scrape timestamps (prometheus/prometheus#7846, #9283).
//!
//! A timer wakes a millisecond or two late, so raw wall-clock stamps of a
//! 15 s loop read 15000, 15002, 14998, … ms apart. TimescaleDB (like any
//! delta-of-delta codec) stores a perfectly regular series of timestamps in
//! almost nothing, but every irregular step costs ~12 bits: on a recorded
//! node_exporter mix the timestamps were half of all compressed bytes
//! (BENCHMARKS.md, issue 16). So when a pass starts within a small
//! tolerance of where the last one plus the interval says it should, it is
//! stamped with that expected time; otherwise (a late pass, a clock step)
//! with the clock, and the alignment starts again from there.

use std::time::Duration;

/// Prometheus's default (`ScrapeTimestampTolerance`).
pub const TOLERANCE_MS: i64 = 2;

#[derive(Debug, Clone)]
pub struct Stamps {
    interval_ms: i64,
    /// Where the next pass should fall; None before the first.
    expected: Option<i64>,
}

impl Stamps {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval_ms: i64::try_from(interval.as_millis()).unwrap_or(i64::MAX),
            expected: None,
        }
    }

    /// The timestamp for a pass starting at `now_ms` by the clock.
    pub fn stamp(&mut self, now_ms: i64) -> i64 {
        // As Prometheus: short intervals are left alone, where 2 ms would
        // be a noticeable share of the interval.
        let aligns = self.interval_ms > 100 * TOLERANCE_MS;
        let t = match self.expected {
            Some(e) if aligns && now_ms.abs_diff(e) <= TOLERANCE_MS as u64 => e,
            _ => now_ms,
        };
        self.expected = Some(t.saturating_add(self.interval_ms));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_timer_jitter_is_aligned_to_the_interval() {
        let mut s = Stamps::new(Duration::from_secs(15));
        let got: Vec<i64> = [1_000, 16_002, 30_999, 46_000, 61_001]
            .into_iter()
            .map(|t| s.stamp(t))
            .collect();
        assert_eq!(got, [1_000, 16_000, 31_000, 46_000, 61_000]);
    }

    #[test]
    fn a_late_pass_keeps_its_own_time_and_restarts_the_alignment() {
        let mut s = Stamps::new(Duration::from_secs(15));
        assert_eq!(s.stamp(0), 0);
        assert_eq!(s.stamp(15_050), 15_050, "50 ms late is not jitter");
        assert_eq!(s.stamp(30_051), 30_050, "aligned to the new start");
        assert_eq!(s.stamp(40_000), 40_000, "a clock step back");
        assert_eq!(s.stamp(54_998), 55_000);
    }

    #[test]
    fn drift_never_moves_a_stamp_more_than_the_tolerance() {
        let mut s = Stamps::new(Duration::from_secs(10));
        let mut now = 0;
        for _ in 0..1_000 {
            now += 10_001; // a clock that runs 0.01% fast
            let t = s.stamp(now);
            assert!((t - now).abs() <= TOLERANCE_MS, "{t} vs {now}");
        }
    }

    #[test]
    fn short_intervals_are_not_aligned() {
        let mut s = Stamps::new(Duration::from_millis(100));
        assert_eq!(s.stamp(0), 0);
        assert_eq!(s.stamp(101), 101);
    }

    #[test]
    fn stamps_strictly_increase_while_the_clock_does() {
        let mut s = Stamps::new(Duration::from_secs(15));
        let mut last = i64::MIN;
        for (i, jitter) in [0, 2, -2, 1, -1, 3, -3, 0]
            .iter()
            .cycle()
            .take(200)
            .enumerate()
        {
            let t = s.stamp(i as i64 * 15_000 + jitter);
            assert!(t > last);
            last = t;
        }
    }
}
