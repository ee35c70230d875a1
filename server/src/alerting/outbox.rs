//! Drains the outbox: every due notification goes to its channel's
//! notifier; it is marked sent only after the receiver accepted it, so
//! delivery is at-least-once across crashes and outages. Transient
//! failures back off (honouring `retry_after`); only permanent ones are
//! given up, recorded with the reason.

use super::bot_poll::Slot;
use super::notify::{Failure, Message, Notification, Notifier, Webhook};
use crate::clock::Clock;
use crate::storage::{OutboxRow, Store};
use std::collections::BTreeMap;
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
    telegram: Slot,
    webhook: Arc<Webhook>,
    clock: Clock,
    /// Wakes the loop when the engine queued something.
    pub wake: Arc<Notify>,
    self_alert_targets: Vec<String>,
    /// Channels whose receiver asked to wait (`retry_after`), until when:
    /// every message to that chat or URL waits, not only the one refused.
    held: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Dispatcher {
    pub fn new(store: Store, telegram: Slot, webhook: Webhook, clock: Clock) -> Self {
        Self {
            store,
            telegram,
            webhook: Arc::new(webhook),
            clock,
            wake: Arc::new(Notify::new()),
            self_alert_targets: Vec::new(),
            held: Default::default(),
        }
    }

    /// Shares the engine's "something was queued" signal, so a
    /// notification goes out as soon as it is committed, not at the next
    /// poll.
    pub fn woken_by(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Where dozor's alert about a failed receiver goes (besides the chats
    /// linked to "default"): the configured default targets.
    pub fn self_alert_to(mut self, targets: Vec<String>) -> Self {
        self.self_alert_targets = targets;
        self
    }

    fn notifier(&self, channel: &str) -> Option<(Arc<dyn Notifier>, String)> {
        let (kind, target) = channel.split_once(':')?;
        match kind {
            "telegram" => self
                .telegram
                .get()
                .map(|t| (t as Arc<dyn Notifier>, target.to_string())),
            "webhook" => Some((
                self.webhook.clone() as Arc<dyn Notifier>,
                target.to_string(),
            )),
            _ => None,
        }
    }

    /// Sends message `batch` (rows claimed together); true if delivered.
    async fn deliver(&self, batch: i64) -> crate::storage::Result<bool> {
        let rows = self.store.batch_notifications(batch).await?;
        let Some(first) = rows.first() else {
            return Ok(false);
        };
        let now = self.clock.now_ms();
        let parts = first.parts_sent.max(0) as usize;
        let mut alerts = Vec::with_capacity(rows.len());
        for row in &rows {
            match serde_json::from_str::<Notification>(&row.payload) {
                Ok(n) => alerts.push(n),
                Err(e) => {
                    tracing::error!(id = row.id, error = %e, "unreadable outbox payload skipped");
                }
            }
        }
        if alerts.is_empty() {
            let why = "unreadable payload";
            self.store
                .notification_failed(batch, now, first.parts_sent, why)
                .await?;
            return Ok(false);
        }
        let group_labels = serde_json::from_str(&first.group_key)
            .unwrap_or_else(|_| Message::one(alerts[0].clone()).group_labels);
        let message = Message {
            group_labels,
            alerts,
        };
        let channel = &first.channel;
        let Some((notifier, target)) = self.notifier(channel) else {
            let why = format!("no notifier configured for {channel}");
            self.store
                .notification_failed(batch, now, first.parts_sent, &why)
                .await?;
            return Ok(false);
        };
        let total = notifier.parts(&message).max(1);
        let mut done = parts;
        let failure = loop {
            if done >= total {
                break None;
            }
            if let Err(f) = notifier.send_part(&target, &message, done).await {
                break Some(f);
            }
            done += 1;
            if done < total {
                // Recorded as each part is accepted: after a crash here
                // the next attempt starts at the next part.
                self.store.notification_progress(batch, done as i64).await?;
            }
        };
        match failure {
            None => {
                self.store
                    .notification_sent(batch, self.clock.now_ms())
                    .await?;
                Ok(true)
            }
            Some(Failure::Retry { after, reason }) => {
                let now = self.clock.now_ms();
                let wait = match after {
                    Some(d) => {
                        let until = now + d.as_millis() as i64;
                        self.held
                            .lock()
                            .expect("lock")
                            .insert(channel.clone(), until);
                        d.as_millis() as i64
                    }
                    None => backoff_ms(first.attempts),
                };
                tracing::warn!(%channel, batch, %reason, wait_ms = wait, "notification will be retried");
                self.store
                    .notification_retry(batch, now + wait, done as i64, &reason)
                    .await?;
                Ok(false)
            }
            Some(Failure::Permanent { reason }) => {
                tracing::error!(%channel, batch, %reason, "notification failed for good");
                let now = self.clock.now_ms();
                self.store
                    .notification_failed(batch, now, done as i64, &reason)
                    .await?;
                super::self_alert::raise(
                    &self.store,
                    &self.self_alert_targets,
                    channel,
                    batch,
                    &message,
                    &reason,
                    now,
                )
                .await?;
                Ok(false)
            }
        }
    }

    /// Until when `channel` is held by a receiver's `retry_after`.
    fn held_until(&self, channel: &str, now: i64) -> Option<i64> {
        let mut held = self.held.lock().expect("lock");
        match held.get(channel) {
            Some(&until) if until > now => Some(until),
            Some(_) => {
                held.remove(channel);
                None
            }
            None => None,
        }
    }

    /// Claims the unclaimed due rows into messages, one per channel and
    /// group, and returns every due message's batch number with its
    /// channel, oldest first.
    async fn claim(&self, due: &[OutboxRow]) -> crate::storage::Result<Vec<(i64, String)>> {
        let mut batches: Vec<(i64, String)> = Vec::new();
        let mut fresh: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
        for row in due {
            match row.batch {
                Some(b) => {
                    if !batches.iter().any(|(x, _)| *x == b) {
                        batches.push((b, row.channel.clone()));
                    }
                }
                None => fresh
                    .entry((row.channel.as_str(), row.group_key.as_str()))
                    .or_default()
                    .push(row.id),
            }
        }
        for ((channel, _), ids) in fresh {
            // The batch is numbered by its oldest row, unique for ever.
            let batch = ids[0];
            self.store.claim_batch(&ids, batch).await?;
            batches.push((batch, channel.to_string()));
        }
        batches.sort();
        Ok(batches)
    }

    /// Sends everything due now; returns how many messages were delivered.
    pub async fn drain_once(&self) -> crate::storage::Result<usize> {
        let mut delivered = 0;
        loop {
            let due = self
                .store
                .due_notifications(self.clock.now_ms(), 500)
                .await?;
            if due.is_empty() {
                return Ok(delivered);
            }
            let mut progressed = false;
            // A channel that just failed is skipped for the rest of this
            // pass: its other messages would fail the same way.
            let mut failing = std::collections::HashSet::new();
            for (batch, channel) in self.claim(&due).await? {
                if failing.contains(&channel) {
                    continue;
                }
                // The receiver asked this chat or URL to wait: its other
                // messages wait too, without asking again.
                if let Some(until) = self.held_until(&channel, self.clock.now_ms()) {
                    self.store.notification_defer(batch, until).await?;
                    continue;
                }
                if self.deliver(batch).await? {
                    delivered += 1;
                    progressed = true;
                } else {
                    failing.insert(channel);
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
