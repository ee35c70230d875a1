//! Retry delays.

use rand::Rng;
use std::time::Duration;

/// Exponential backoff from 1 s to 60 s with full jitter, so a fleet does
/// not reconnect in lockstep after a server restart.
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self { attempt: 0 }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        let cap = Duration::from_secs(60);
        let base = Duration::from_secs(1) * 2u32.saturating_pow(self.attempt.min(6));
        self.attempt += 1;
        let max = base.min(cap);
        let ms = rand::thread_rng().gen_range(max.as_millis() as u64 / 2..=max.as_millis() as u64);
        Duration::from_millis(ms)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}
