//! Wall-clock time for sessions and tokens, injectable so tests can move
//! past idle and absolute expiry without sleeping for hours. Production
//! uses the system clock; nothing else in dozor reads this one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `start_ms` until advanced.
    pub fn manual(start_ms: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start_ms))))
    }

    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::Relaxed),
            None => dozor_collector::agent::now_ms(),
        }
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance(&self, ms: i64) {
        if let Some(t) = &self.0 {
            t.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        let shared = c.clone();
        assert_eq!(c.now_ms(), 1_000);
        shared.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        let sys = Clock::system();
        sys.advance(1_000_000);
        assert!((sys.now_ms() - dozor_collector::agent::now_ms()).abs() < 1_000);
    }
}
