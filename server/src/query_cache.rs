//! A results cache for the dashboard's range queries, as Cortex's and
//! Thanos's query frontends do: a step-aligned result's points at times
//! older than a freeze horizon do not change (they depend only on samples
//! at or before them), so a refresh computes only the new tail and reuses
//! the rest.
//!
//! Late data (an agent flushing its queue after an outage) can still land
//! behind the horizon; entries therefore live at most [`TTL`], which bounds
//! how long such a gap stays on screen.

use dozor_ui::{QueryFailed, SeriesData};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Points newer than `now - FREEZE_MS` are always recomputed.
pub const FREEZE_MS: i64 = 120_000;
pub const TTL: Duration = Duration::from_secs(300);
const MAX_ENTRIES: usize = 512;

struct Entry {
    made: Instant,
    start: i64,
    /// Points at or before this are final.
    frozen_to: i64,
    series: Vec<SeriesData>,
}

#[derive(Default)]
pub struct RangeCache(Mutex<HashMap<(String, i64), Entry>>);

/// What to compute: the whole range, or only `[from, end]` to merge with
/// `cached`.
pub enum Plan {
    Full,
    Tail { from: i64, cached: Vec<SeriesData> },
}

impl RangeCache {
    pub fn plan(&self, query: &str, start: i64, end: i64, step: i64) -> Plan {
        let map = self.0.lock().expect("not poisoned");
        let Some(e) = map.get(&(query.to_string(), step)) else {
            return Plan::Full;
        };
        let aligned = (start - e.start).rem_euclid(step) == 0;
        if e.made.elapsed() > TTL || !aligned || start < e.start || e.frozen_to < start {
            return Plan::Full;
        }
        let keep = |s: &SeriesData| SeriesData {
            labels: s.labels.clone(),
            points: s
                .points
                .iter()
                .copied()
                .filter(|p| p.0 >= start && p.0 <= e.frozen_to.min(end))
                .collect(),
        };
        Plan::Tail {
            from: e.frozen_to + step,
            cached: e.series.iter().map(keep).collect(),
        }
    }

    /// Stores a complete result for `[start, end]` computed at `now_ms`.
    pub fn store(&self, query: &str, start: i64, step: i64, now_ms: i64, series: &[SeriesData]) {
        let frozen = now_ms - FREEZE_MS;
        let frozen_to = start + (frozen - start).div_euclid(step) * step;
        if frozen_to < start {
            return;
        }
        let mut map = self.0.lock().expect("not poisoned");
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.made.elapsed() <= TTL);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let key = (query.to_string(), step);
        // Keep the original entry's age: refreshing must not extend the
        // TTL that bounds late-data staleness.
        let made = map.get(&key).map_or_else(Instant::now, |e| e.made);
        map.insert(
            key,
            Entry {
                made,
                start,
                frozen_to,
                series: series.to_vec(),
            },
        );
    }
}

/// Cached points followed by the fresh tail, merged by label set.
pub fn merge(
    cached: Vec<SeriesData>,
    fresh: Result<Vec<SeriesData>, QueryFailed>,
) -> Result<Vec<SeriesData>, QueryFailed> {
    let mut by_labels: BTreeMap<_, Vec<(i64, f64)>> = BTreeMap::new();
    for s in cached.into_iter().chain(fresh?) {
        by_labels.entry(s.labels).or_default().extend(s.points);
    }
    Ok(by_labels
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(labels, points)| SeriesData { labels, points })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, pts: &[(i64, f64)]) -> SeriesData {
        SeriesData {
            labels: [("n".to_string(), name.to_string())].into(),
            points: pts.to_vec(),
        }
    }

    #[test]
    fn reuses_frozen_points_and_recomputes_the_tail() {
        let c = RangeCache::default();
        let now = 1_000_000;
        assert!(matches!(c.plan("q", 0, 990_000, 10_000), Plan::Full));
        let full = vec![s(
            "a",
            &[(0, 1.0), (870_000, 2.0), (880_000, 3.0), (990_000, 4.0)],
        )];
        c.store("q", 0, 10_000, now, &full);
        // Frozen up to now - 2 min = 880 s; a later, overlapping view.
        let Plan::Tail { from, cached } = c.plan("q", 10_000, 1_050_000, 10_000) else {
            panic!("expected a tail")
        };
        assert_eq!(from, 890_000);
        assert_eq!(cached[0].points, vec![(870_000, 2.0), (880_000, 3.0)]);
        let merged = merge(
            cached,
            Ok(vec![s("a", &[(890_000, 5.0)]), s("b", &[(900_000, 1.0)])]),
        )
        .unwrap();
        assert_eq!(
            merged[0].points,
            vec![(870_000, 2.0), (880_000, 3.0), (890_000, 5.0)]
        );
        assert_eq!(merged[1].points, vec![(900_000, 1.0)]);
        // Misaligned starts and other steps start over.
        assert!(matches!(c.plan("q", 5_000, 1_050_000, 10_000), Plan::Full));
        assert!(matches!(c.plan("q", 0, 1_050_000, 20_000), Plan::Full));
    }
}
