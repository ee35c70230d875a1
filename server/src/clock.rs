//! The server's one clock: wall-clock time, injectable so tests can move
//! past idle and absolute expiry, retry waits and task ages without
//! sleeping. Everything that needs "now" takes a `Clock` (operations,
//! sessions, tasks, the dispatcher, maintenance); `system_ms` is for what
//! runs before there is one (startup) and for tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The system clock's time in Unix milliseconds.
pub fn system_ms() -> i64 {
    dozor_collector::agent::now_ms()
}

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
            None => system_ms(),
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
