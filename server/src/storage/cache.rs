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
}
