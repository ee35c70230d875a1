//! Rollup resolutions and bucket arithmetic shared by the backends.
//!
//! Rollups hold min, max, sum, count and last per series per bucket, so
//! avg/min/max/count/last over long ranges are exact without raw samples.
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

pub fn floor(ts_ms: i64, width_ms: i64) -> i64 {
    ts_ms.div_euclid(width_ms) * width_ms
}

/// The end (exclusive) of what a pass at `now_ms` may roll up.
pub fn horizon(now_ms: i64) -> i64 {
    floor(now_ms - HORIZON_LAG_MS, Resolution::FiveMinutes.width_ms())
}

/// Distinct 5-minute buckets touched by late samples in a batch.
pub fn late_buckets(ts: impl Iterator<Item = i64>, now_ms: i64) -> Vec<i64> {
    let mut out: Vec<i64> = ts
        .filter(|t| *t < now_ms - LATE_AFTER_MS)
        .map(|t| floor(t, Resolution::FiveMinutes.width_ms()))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
            vec![9_600_000, 9_900_000]
        );
    }
}
