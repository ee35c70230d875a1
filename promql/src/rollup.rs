//! Rollup resolutions and bucket arithmetic shared by the backends.
//!
//! Rollups hold min, max, sum, count and last per series per bucket, so
//! avg/min/max/count/last over long ranges are exact without raw samples.
//!
//! Bucket `b` holds the samples with `b < ts <= b + width`: left-open like
//! PromQL's range windows, so a window `(t - r, t]` with `t` and `r` on
//! bucket boundaries is exactly the buckets `t - r, …, t - width`.
//! TimescaleDB maintains them as continuous aggregates; plain PostgreSQL
//! and SQLite have tables the server fills:
//! - every pass recomputes buckets from the watermark up to the horizon
//!   (`now - HORIZON_LAG`, floored to a bucket), and
//! - ingest marks a bucket dirty when it stores a sample older than
//!   `now - LATE_AFTER`; the next pass recomputes dirty buckets.
//!
//! Invariant: LATE_AFTER < HORIZON_LAG, so a sample that was not marked
//! dirty lands in a bucket the pass has not yet reached, unless its ingest
//! transaction stays open longer than HORIZON_LAG - LATE_AFTER (60 s).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    FiveMinutes,
    OneHour,
}

impl Resolution {
    pub fn width_ms(self) -> i64 {
        match self {
            Resolution::FiveMinutes => 300_000,
            Resolution::OneHour => 3_600_000,
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Resolution::FiveMinutes => "samples_5m",
            Resolution::OneHour => "samples_1h",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "5m" => Some(Resolution::FiveMinutes),
            "1h" => Some(Resolution::OneHour),
            _ => None,
        }
    }
}

pub const LATE_AFTER_MS: i64 = 60_000;
pub const HORIZON_LAG_MS: i64 = 120_000;
/// Most 5-minute buckets one transaction recomputes, so catching up after
/// downtime is done in bounded steps.
pub const MAX_BUCKETS_PER_STEP: i64 = 12;
/// Most dirty buckets one transaction claims and recomputes: after a
/// backfill there may be thousands, and SQLite's one writer must not be
/// held while they are all redone (every write would wait).
pub const MAX_DIRTY_PER_STEP: i64 = 12;
/// Most steps in one `refresh_rollups` call (about 10 days of buckets).
pub const MAX_STEPS_PER_PASS: usize = 240;

pub fn floor(ts_ms: i64, width_ms: i64) -> i64 {
    ts_ms.div_euclid(width_ms) * width_ms
}

/// The bucket holding a sample at `ts_ms`: buckets are left-open.
pub fn bucket_of(ts_ms: i64, width_ms: i64) -> i64 {
    floor(ts_ms - 1, width_ms)
}

/// How far the rollup tables can be trusted, read before a query uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// 5-minute buckets below this are computed (TimescaleDB's real-time
    /// aggregates are complete: `i64::MAX`; no pass yet: `i64::MIN`).
    pub watermark_ms: i64,
    /// 5-minute buckets below the watermark waiting to be recomputed.
    pub dirty: Vec<i64>,
}

impl Coverage {
    pub fn complete() -> Self {
        Self {
            watermark_ms: i64::MAX,
            dirty: Vec::new(),
        }
    }

    /// Buckets of `res` strictly below this hold final values: an hour is
    /// rebuilt only once all its 5-minute buckets are.
    pub fn complete_before(&self, res: Resolution) -> i64 {
        if self.watermark_ms == i64::MAX || self.watermark_ms == i64::MIN {
            return self.watermark_ms;
        }
        floor(self.watermark_ms, res.width_ms())
    }

    /// True when a dirty bucket overlaps `[from, to)`.
    pub fn dirty_in(&self, from: i64, to: i64) -> bool {
        self.dirty.iter().any(|b| *b + 300_000 > from && *b < to)
    }
}

/// The end (exclusive) of what a pass at `now_ms` may roll up.
pub fn horizon(now_ms: i64) -> i64 {
    floor(now_ms - HORIZON_LAG_MS, Resolution::FiveMinutes.width_ms())
}

/// Distinct 5-minute buckets touched by late samples in a batch.
pub fn late_buckets(ts: impl Iterator<Item = i64>, now_ms: i64) -> Vec<i64> {
    let mut out: Vec<i64> = ts
        .filter(|t| *t < now_ms - LATE_AFTER_MS)
        .map(|t| bucket_of(t, Resolution::FiveMinutes.width_ms()))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What one bounded rollup step does; the backends only execute it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `[from, to)` ranges of bucket starts to recompute: the samples with
    /// `from < ts <= to`.
    pub five_minute: Vec<(i64, i64)>,
    /// Starts of complete hours to rebuild from the 5-minute table.
    pub hours: Vec<i64>,
    /// The new watermark, when it moves.
    pub watermark: Option<i64>,
    /// True when the watermark reached the horizon and no claimed batch of
    /// dirty buckets was full (more may be waiting).
    pub caught_up: bool,
}

/// Plans a step from the current `watermark` and the dirty buckets claimed
/// for it (at most [`MAX_DIRTY_PER_STEP`]). Dirty buckets at or above the
/// watermark need nothing: the range will cover them.
pub fn plan_step(watermark: i64, dirty: &[i64], now_ms: i64) -> Step {
    const FIVE: i64 = 300_000;
    const HOUR: i64 = 3_600_000;
    let horizon = horizon(now_ms);
    let end = horizon.min(watermark + MAX_BUCKETS_PER_STEP * FIVE);
    let mut five_minute = Vec::new();
    let mut hours = std::collections::BTreeSet::new();
    for &b in dirty.iter().filter(|b| **b < watermark) {
        five_minute.push((b, b + FIVE));
        hours.insert(floor(b, HOUR));
    }
    let mut new_watermark = None;
    if end > watermark {
        five_minute.push((watermark, end));
        // Hours this step completes.
        let mut h = floor(watermark, HOUR);
        while h + HOUR <= end {
            if h + HOUR > watermark {
                hours.insert(h);
            }
            h += HOUR;
        }
        new_watermark = Some(end);
    }
    let done_to = end.max(watermark);
    Step {
        five_minute,
        hours: hours.into_iter().filter(|h| h + HOUR <= done_to).collect(),
        watermark: new_watermark,
        caught_up: end >= horizon && (dirty.len() as i64) < MAX_DIRTY_PER_STEP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_bounded_steps_and_completed_hours() {
        const H: i64 = 3_600_000;
        let now = 10 * H + 30 * 60_000;
        // Far behind: 12 buckets (one hour) per step.
        let s = plan_step(2 * H, &[], now);
        assert_eq!(s.five_minute, vec![(2 * H, 3 * H)]);
        assert_eq!(s.hours, vec![2 * H]);
        assert_eq!((s.watermark, s.caught_up), (Some(3 * H), false));
        // Near the horizon (10:25 for now = 10:30): partial hour not rebuilt.
        let s = plan_step(10 * H, &[], now);
        assert_eq!(s.five_minute, vec![(10 * H, 10 * H + 25 * 60_000)]);
        assert!(s.hours.is_empty());
        assert!(s.caught_up);
        // Dirty buckets below the watermark are redone with their hour.
        let s = plan_step(
            10 * H + 25 * 60_000,
            &[3 * H + 300_000, 10 * H + 25 * 60_000],
            now,
        );
        assert_eq!(s.five_minute, vec![(3 * H + 300_000, 3 * H + 600_000)]);
        assert_eq!(s.hours, vec![3 * H]);
        assert_eq!(s.watermark, None);
        assert!(s.caught_up);
        // A full claim of dirty buckets: more may wait, so not caught up.
        let full: Vec<i64> = (0..MAX_DIRTY_PER_STEP)
            .map(|i| 3 * H + i * 300_000)
            .collect();
        assert!(!plan_step(10 * H + 25 * 60_000, &full, now).caught_up);
    }

    #[test]
    fn bucket_math() {
        assert_eq!(floor(299_999, 300_000), 0);
        assert_eq!(floor(300_000, 300_000), 300_000);
        assert_eq!(floor(-1, 300_000), -300_000);
        assert_eq!(horizon(1_000_000), 600_000);
        let now = 10_000_000;
        assert_eq!(
            late_buckets(
                [now, now - 61_000, now - 61_500, now - 400_000].into_iter(),
                now
            ),
            vec![9_300_000, 9_900_000]
        );
        // Left-open buckets: a sample on a boundary closes the bucket before.
        assert_eq!(bucket_of(300_000, 300_000), 0);
        assert_eq!(bucket_of(300_001, 300_000), 300_000);
        assert_eq!(late_buckets([9_900_000].into_iter(), now), vec![9_600_000]);
    }
}
