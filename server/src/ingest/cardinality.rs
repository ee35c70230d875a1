//! Series cardinality per agent: each agent may keep at most N distinct
//! series active. A series is active while written within the last hour;
//! older ones are forgotten when room is needed, so a host whose
//! containers churn is not locked out forever. The count lives in memory
//! (it refills from traffic after a restart), keyed by a 64-bit hash of
//! the series so a full agent costs ~16 bytes per series.

use dozor_common::SeriesBatch;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Series not written for this long stop counting against the limit.
pub const ACTIVE_WINDOW_MS: i64 = 3_600_000;

#[derive(Default)]
pub struct SeriesLimiter {
    agents: Mutex<HashMap<i64, HashMap<u64, i64>>>,
}

/// The batch would take the agent past its limit.
#[derive(Debug, PartialEq, Eq)]
pub struct OverLimit {
    pub active: usize,
    pub new: usize,
    pub limit: usize,
}

fn key(s: &SeriesBatch) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.name.hash(&mut h);
    for (k, v) in &s.labels {
        k.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

impl SeriesLimiter {
    /// Admits the whole batch or none of it: a batch is one scrape or
    /// collection, and half of one would mislead queries.
    pub fn admit(
        &self,
        agent_id: i64,
        series: &[SeriesBatch],
        limit: usize,
        now_ms: i64,
    ) -> Result<(), OverLimit> {
        let mut all = self.agents.lock().expect("limiter lock");
        let seen = all.entry(agent_id).or_default();
        let keys: Vec<u64> = series.iter().map(key).collect();
        let mut fresh: Vec<u64> = keys
            .iter()
            .copied()
            .filter(|k| !seen.contains_key(k))
            .collect();
        fresh.sort_unstable();
        fresh.dedup();
        if seen.len() + fresh.len() > limit {
            let cutoff = now_ms - ACTIVE_WINDOW_MS;
            seen.retain(|_, last| *last >= cutoff);
            if seen.len() + fresh.len() > limit {
                return Err(OverLimit {
                    active: seen.len(),
                    new: fresh.len(),
                    limit,
                });
            }
        }
        for k in keys {
            seen.insert(k, now_ms);
        }
        Ok(())
    }

    /// Forgets an agent (revoked or removed).
    pub fn forget(&self, agent_id: i64) {
        self.agents.lock().expect("limiter lock").remove(&agent_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dozor_common::Sample;

    fn batch(n: usize, tag: &str) -> Vec<SeriesBatch> {
        (0..n)
            .map(|i| {
                SeriesBatch::new(
                    "m",
                    [("i".to_string(), format!("{tag}{i}"))]
                        .into_iter()
                        .collect(),
                    vec![Sample::new(1, 1.0)],
                )
            })
            .collect()
    }

    #[test]
    fn admits_known_series_and_refuses_growth_past_the_limit() {
        let l = SeriesLimiter::default();
        assert!(l.admit(1, &batch(10, "a"), 10, 0).is_ok());
        // The same series again are free.
        assert!(l.admit(1, &batch(10, "a"), 10, 1_000).is_ok());
        assert_eq!(
            l.admit(1, &batch(1, "b"), 10, 2_000),
            Err(OverLimit {
                active: 10,
                new: 1,
                limit: 10
            })
        );
        // Another agent has its own budget.
        assert!(l.admit(2, &batch(10, "b"), 10, 2_000).is_ok());
        // After an hour of silence the old series stop counting.
        assert!(l
            .admit(1, &batch(5, "c"), 10, 1_000 + ACTIVE_WINDOW_MS + 1)
            .is_ok());
        l.forget(1);
        assert!(l.admit(1, &batch(10, "d"), 10, 0).is_ok());
    }
}
