//! Series-id cache: canonical series key → id, so steady-state ingest never
//! looks series up in the database. Also tracks when each series was last
//! written, for the `dozor_active_series` gauge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::RwLock;

struct Entry {
    id: i64,
    last_write_ms: AtomicI64,
}

#[derive(Default)]
pub struct SeriesCache {
    map: RwLock<HashMap<String, Entry>>,
}

impl SeriesCache {
    /// Looks a key up and, when found, marks it written at `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<i64> {
        let map = self.map.read().expect("cache lock");
        map.get(key).map(|e| {
            e.last_write_ms.store(now_ms, Relaxed);
            e.id
        })
    }

    pub fn insert(&self, key: String, id: i64, now_ms: i64) {
        self.map.write().expect("cache lock").insert(
            key,
            Entry {
                id,
                last_write_ms: AtomicI64::new(now_ms),
            },
        );
    }

    /// Series written since `since_ms`.
    pub fn active_since(&self, since_ms: i64) -> usize {
        let map = self.map.read().expect("cache lock");
        map.values()
            .filter(|e| e.last_write_ms.load(Relaxed) >= since_ms)
            .count()
    }

    pub fn len(&self) -> usize {
        self.map.read().expect("cache lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything, e.g. after retention deleted series.
    pub fn clear(&self) {
        self.map.write().expect("cache lock").clear();
    }

    /// Forgets series not written since `before_ms`: they cost one lookup
    /// if they come back, and container churn would otherwise grow the map
    /// for ever. Returns how many were dropped.
    pub fn forget_idle(&self, before_ms: i64) -> usize {
        let mut map = self.map.write().expect("cache lock");
        let n = map.len();
        map.retain(|_, e| e.last_write_ms.load(Relaxed) >= before_ms);
        map.shrink_to_fit();
        n - map.len()
    }

    /// Forgets these series ids (their rows are about to be deleted).
    pub fn forget_ids(&self, ids: &std::collections::HashSet<i64>) {
        self.map
            .write()
            .expect("cache lock")
            .retain(|_, e| !ids.contains(&e.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_entries_and_given_ids_are_forgotten() {
        let c = SeriesCache::default();
        c.insert("a".into(), 1, 1_000);
        c.insert("b".into(), 2, 5_000);
        c.insert("c".into(), 3, 5_000);
        assert_eq!(c.get("a", 1_000), Some(1));
        assert_eq!(c.forget_idle(2_000), 1);
        assert_eq!(c.get("a", 9_000), None);
        c.forget_ids(&[3].into_iter().collect());
        assert_eq!((c.get("b", 9_000), c.get("c", 9_000)), (Some(2), None));
    }
}
