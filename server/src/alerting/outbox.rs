//! Drains the outbox: every due notification goes to its channel's
//! notifier; it is marked sent only after the receiver accepted it, so
//! delivery is at-least-once across crashes and outages. Transient
//! failures back off (honouring `retry_after`); only permanent ones are
//! given up, recorded with the reason.

use super::notify::{Failure, Notification, Notifier, Webhook};
use super::telegram::Telegram;
use crate::clock::Clock;
use crate::storage::{OutboxRow, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Longest wait between attempts, so an outage's backlog goes out soon
/// after the receiver is back.
pub const MAX_BACKOFF_MS: i64 = 60_000;

pub fn backoff_ms(attempts: i64) -> i64 {
    (1000_i64 << attempts.clamp(0, 16)).min(MAX_BACKOFF_MS)
}

pub struct Dispatcher {
    store: Store,
    telegram: Option<Telegram>,
    webhook: Webhook,
    clock: Clock,
    /// Wakes the loop when the engine queued something.
    pub wake: Notify,
}

impl Dispatcher {
    pub fn new(store: Store, telegram: Option<Telegram>, webhook: Webhook, clock: Clock) -> Self {
        Self {
            store,
            telegram,
            webhook,
            clock,
            wake: Notify::new(),
        }
    }

    fn notifier(&self, channel: &str) -> Option<(&dyn Notifier, String)> {
        let (kind, target) = channel.split_once(':')?;
        match kind {
            "telegram" => self
                .telegram
                .as_ref()
                .map(|t| (t as &dyn Notifier, target.to_string())),
            "webhook" => Some((&self.webhook as &dyn Notifier, target.to_string())),
            _ => None,
        }
    }

    async fn deliver(&self, row: &OutboxRow) -> crate::storage::Result<bool> {
        let now = self.clock.now_ms();
        let parts = row.parts_sent.max(0) as usize;
        let n: Notification = match serde_json::from_str(&row.payload) {
            Ok(n) => n,
            Err(e) => {
                self.store
                    .notification_failed(
                        row.id,
                        now,
                        row.parts_sent,
                        &format!("unreadable payload: {e}"),
                    )
                    .await?;
                return Ok(false);
            }
        };
        let Some((notifier, target)) = self.notifier(&row.channel) else {
            let why = format!("no notifier configured for {}", row.channel);
            self.store
                .notification_failed(row.id, now, row.parts_sent, &why)
                .await?;
            return Ok(false);
        };
        match notifier.send(&target, &n, parts).await {
            Ok(()) => {
                self.store
                    .notification_sent(row.id, self.clock.now_ms())
                    .await?;
                Ok(true)
            }
            Err(Failure::Retry {
                after,
                parts_sent,
                reason,
            }) => {
                let wait = after
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(|| backoff_ms(row.attempts));
                tracing::warn!(channel = %row.channel, id = row.id, %reason, wait_ms = wait, "notification will be retried");
                // `parts_sent` counts from the first part of the message.
                let done = parts_sent.max(parts) as i64;
                self.store
                    .notification_retry(row.id, self.clock.now_ms() + wait, done, &reason)
                    .await?;
                Ok(false)
            }
            Err(Failure::Permanent { parts_sent, reason }) => {
                tracing::error!(channel = %row.channel, id = row.id, %reason, "notification failed for good");
                self.store
                    .notification_failed(row.id, self.clock.now_ms(), parts_sent as i64, &reason)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Sends everything due now; returns how many were delivered.
    pub async fn drain_once(&self) -> crate::storage::Result<usize> {
        let mut delivered = 0;
        loop {
            let due = self
                .store
                .due_notifications(self.clock.now_ms(), 100)
                .await?;
            if due.is_empty() {
                return Ok(delivered);
            }
            let mut progressed = false;
            // A channel that just failed is skipped for the rest of this
            // pass: its other messages would fail the same way.
            let mut failing = std::collections::HashSet::new();
            for row in &due {
                if failing.contains(&row.channel) {
                    continue;
                }
                if self.deliver(row).await? {
                    delivered += 1;
                    progressed = true;
                } else {
                    failing.insert(row.channel.clone());
                }
            }
            // Everything left is waiting for a retry time.
            if !progressed {
                return Ok(delivered);
            }
        }
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.drain_once().await {
                tracing::warn!(error = %e, "outbox unavailable; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        let b: Vec<i64> = (0..8).map(super::backoff_ms).collect();
        assert_eq!(b, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    }
}
