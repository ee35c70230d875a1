//! API token lookups, remembered for a moment.
//!
//! Every API request presents a token, and looking it up is a round trip
//! to storage: on PostgreSQL half of a small query's time. Records found
//! are kept for [`TTL`]. Revocations and user changes made through this
//! process's operations clear the cache at once; the TTL bounds how long
//! a change made elsewhere (another process on the same database, SQL by
//! hand) takes to be seen. Expiry is checked on every use, from the
//! record, so it is exact. Unknown tokens are never remembered: a token
//! minted from the command line works at once.

use crate::storage::ApiTokenRecord;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a looked-up record is trusted without asking storage again.
pub const TTL: Duration = Duration::from_secs(2);

/// At most this many tokens are remembered; past it, expired entries go
/// first, then all (a flood of distinct valid tokens is not a real load).
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct TokenCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every clear, so a lookup that began before a revocation
    /// cannot put back the record it read.
    generation: u64,
    entries: HashMap<String, (Instant, ApiTokenRecord)>,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only a map of copies.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The record for `hash`, if read from storage less than TTL ago.
    pub fn get(&self, hash: &str) -> Option<ApiTokenRecord> {
        let g = self.lock();
        let (at, rec) = g.entries.get(hash)?;
        (at.elapsed() < TTL).then(|| rec.clone())
    }

    /// The generation to pass to [`Self::put`]: read before the lookup.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Remembers a record read from storage, unless the cache was cleared
    /// since `generation` was read.
    pub fn put(&self, generation: u64, hash: &str, rec: ApiTokenRecord) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        if g.entries.len() >= MAX_ENTRIES && !g.entries.contains_key(hash) {
            g.entries.retain(|_, (at, _)| at.elapsed() < TTL);
            if g.entries.len() >= MAX_ENTRIES {
                g.entries.clear();
            }
        }
        g.entries.insert(hash.to_string(), (Instant::now(), rec));
    }

    /// Records a use written to storage, so the next request does not
    /// write it again from a stale copy.
    pub fn used(&self, hash: &str, now_ms: i64) {
        if let Some((_, rec)) = self.lock().entries.get_mut(hash) {
            rec.last_used_ms = Some(now_ms);
        }
    }

    /// Forgets everything: a token was revoked or a user changed.
    pub fn clear(&self) {
        let mut g = self.lock();
        g.generation += 1;
        g.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Role, Scope};

    fn rec(id: i64) -> ApiTokenRecord {
        ApiTokenRecord {
            id,
            user_id: 1,
            username: "u".into(),
            user_role: Role::Viewer,
            user_disabled: false,
            name: "t".into(),
            scope: Scope::Read,
            created_ms: 0,
            expires_ms: None,
            last_used_ms: None,
            revoked_ms: None,
        }
    }

    #[test]
    fn a_lookup_begun_before_a_clear_is_not_remembered() {
        let c = TokenCache::default();
        let before = c.generation();
        c.clear();
        c.put(before, "h", rec(1));
        assert!(c.get("h").is_none());
        c.put(c.generation(), "h", rec(1));
        assert_eq!(c.get("h").map(|r| r.id), Some(1));
        c.clear();
        assert!(c.get("h").is_none());
    }

    #[test]
    fn uses_are_recorded_and_the_size_is_bounded() {
        let c = TokenCache::default();
        let g = c.generation();
        c.put(g, "h", rec(1));
        c.used("h", 42);
        assert_eq!(c.get("h").and_then(|r| r.last_used_ms), Some(42));
        for i in 0..(MAX_ENTRIES as i64 + 10) {
            c.put(g, &format!("k{i}"), rec(i));
        }
        assert!(c.lock().entries.len() <= MAX_ENTRIES);
    }
}
