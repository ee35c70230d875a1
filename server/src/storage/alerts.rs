//! Alerting storage: alert states, history and the notification outbox.
//! One rule evaluation is saved in one transaction (states, history rows
//! and outbox rows together), so a crash between deciding to notify and
//! recording it cannot happen. Implemented once for both backends.

use super::Result;
use async_trait::async_trait;

/// A pending or firing alert as stored; labels are canonical JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub rule: String,
    pub labels: String,
    pub state: String,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub last_seen_ms: i64,
    pub value: Option<f64>,
    pub last_notified_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub ts_ms: i64,
    pub rule: String,
    pub labels: String,
    pub change: String,
    pub value: Option<f64>,
    pub severity: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub created_ms: i64,
    pub channel: String,
    pub idempotency_key: String,
    pub payload: String,
    pub attempts: i64,
    pub parts_sent: i64,
    /// The alert group (policy.rs); due rows of one group and channel
    /// are sent as one message.
    pub group_key: String,
    /// Set when the dispatcher claims rows for one message, so a retry
    /// resends exactly that message.
    pub batch: Option<i64>,
}

/// A notification to queue for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub channel: String,
    /// An existing key is skipped (the same event queued twice).
    pub key: String,
    pub payload: String,
    pub group_key: String,
    pub due_ms: i64,
}

/// What one evaluation of one rule changes.
#[derive(Debug, Clone, Default)]
pub struct RuleUpdate {
    pub rule: String,
    pub eval_ms: i64,
    /// The rule's alerts after the evaluation (replacing the stored set).
    pub alerts: Vec<AlertRow>,
    pub history: Vec<HistoryRow>,
    pub outbox: Vec<OutboxItem>,
}

#[async_trait]
pub trait Alerts: Send + Sync {
    /// Saves several rules' evaluations in one transaction (a group's).
    async fn save_rule_updates(&self, us: &[RuleUpdate]) -> Result<()>;
    async fn save_rule_update(&self, u: &RuleUpdate) -> Result<()> {
        self.save_rule_updates(std::slice::from_ref(u)).await
    }
    /// Every stored alert, and each rule's last evaluation time.
    async fn load_alerts(&self) -> Result<(Vec<AlertRow>, Vec<(String, i64)>)>;
    /// A history entry outside an evaluation (an acknowledgement).
    async fn record_history(&self, h: &HistoryRow) -> Result<()>;
    /// Newest first; `rule` filters when given.
    async fn alert_history(&self, rule: Option<&str>, limit: i64) -> Result<Vec<HistoryRow>>;
    /// Unsent, not given up, due at `now_ms`; oldest first.
    async fn due_notifications(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>>;
    /// Claims unclaimed rows for one message numbered `batch`.
    async fn claim_batch(&self, ids: &[i64], batch: i64) -> Result<()>;
    /// A claimed message's rows, oldest first.
    async fn batch_notifications(&self, batch: i64) -> Result<Vec<OutboxRow>>;
    // The outcome of sending message `batch` applies to all its rows.
    async fn notification_sent(&self, batch: i64, now_ms: i64) -> Result<()>;
    /// Records that the first `parts_sent` parts of a batch's message were
    /// accepted (a long Telegram message goes out in several).
    async fn notification_progress(&self, batch: i64, parts_sent: i64) -> Result<()>;
    /// Makes a batch due at `next_ms` without counting an attempt (its
    /// receiver asked every message to wait).
    async fn notification_defer(&self, batch: i64, next_ms: i64) -> Result<()>;
    async fn notification_retry(
        &self,
        batch: i64,
        next_ms: i64,
        parts_sent: i64,
        error: &str,
    ) -> Result<()>;
    async fn notification_failed(
        &self,
        batch: i64,
        now_ms: i64,
        parts_sent: i64,
        error: &str,
    ) -> Result<()>;
    /// (sent, pending, failed) counts, for /metrics and tests.
    async fn outbox_counts(&self) -> Result<(i64, i64, i64)>;
}

pub type AlertTuple = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    i64,
    Option<f64>,
    Option<i64>,
);

pub fn alert_row(r: AlertTuple) -> AlertRow {
    AlertRow {
        rule: r.0,
        labels: r.1,
        state: r.2,
        active_at_ms: r.3,
        fired_at_ms: r.4,
        last_seen_ms: r.5,
        value: r.6,
        last_notified_ms: r.7,
    }
}

pub type OutboxTuple = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<i64>,
);

pub fn outbox_row(r: OutboxTuple) -> OutboxRow {
    OutboxRow {
        id: r.0,
        created_ms: r.1,
        channel: r.2,
        idempotency_key: r.3,
        payload: r.4,
        attempts: r.5,
        parts_sent: r.6,
        group_key: r.7,
        batch: r.8,
    }
}

/// NaN cannot be stored in SQLite (it becomes NULL), so both backends
/// store it as NULL and read it back as NaN.
pub fn finite(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::alerts::Alerts for T {
    async fn save_rule_updates(
        &self,
        us: &[crate::storage::alerts::RuleUpdate],
    ) -> crate::storage::Result<()> {
        let mut tx = self.db().begin().await?;
        for u in us {
            tx.sql("INSERT INTO alert_rule_evals (rule, last_eval_ms) VALUES (?, ?) ON CONFLICT (rule) DO UPDATE SET last_eval_ms = excluded.last_eval_ms").bind(&u.rule).bind(u.eval_ms).execute().await?;
            tx.sql("DELETE FROM alert_states WHERE rule = ?")
                .bind(&u.rule)
                .execute()
                .await?;
            for a in &u.alerts {
                tx.sql("INSERT INTO alert_states (rule, labels, state, active_at_ms, fired_at_ms, last_seen_ms, value, last_notified_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                    .bind(&a.rule).bind(&a.labels).bind(&a.state).bind(a.active_at_ms).bind(a.fired_at_ms).bind(a.last_seen_ms).bind(a.value).bind(a.last_notified_ms)
                    .execute().await?;
            }
            for h in &u.history {
                tx.sql("INSERT INTO alert_history (ts_ms, rule, labels, change, value, severity) VALUES (?, ?, ?, ?, ?, ?)")
                    .bind(h.ts_ms).bind(&h.rule).bind(&h.labels).bind(&h.change).bind(h.value).bind(&h.severity)
                    .execute().await?;
            }
            for o in &u.outbox {
                tx.sql("INSERT INTO outbox (created_ms, channel, idempotency_key, payload, next_attempt_ms, group_key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING")
                    .bind(u.eval_ms).bind(&o.channel).bind(&o.key).bind(&o.payload).bind(o.due_ms).bind(&o.group_key)
                    .execute().await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_alerts(
        &self,
    ) -> crate::storage::Result<(Vec<crate::storage::alerts::AlertRow>, Vec<(String, i64)>)> {
        let rows: Vec<crate::storage::alerts::AlertTuple> = self.db().sql("SELECT rule, labels, state, active_at_ms, fired_at_ms, last_seen_ms, value, last_notified_ms FROM alert_states ORDER BY rule, labels")
            .fetch_all().await?;
        let evals: Vec<(String, i64)> = self
            .db()
            .sql("SELECT rule, last_eval_ms FROM alert_rule_evals")
            .fetch_all()
            .await?;
        Ok((
            rows.into_iter()
                .map(crate::storage::alerts::alert_row)
                .collect(),
            evals,
        ))
    }

    async fn record_history(
        &self,
        h: &crate::storage::alerts::HistoryRow,
    ) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO alert_history (ts_ms, rule, labels, change, value, severity) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(h.ts_ms).bind(&h.rule).bind(&h.labels).bind(&h.change).bind(h.value).bind(&h.severity)
            .execute().await?;
        Ok(())
    }

    async fn alert_history(
        &self,
        rule: Option<&str>,
        limit: i64,
    ) -> crate::storage::Result<Vec<crate::storage::alerts::HistoryRow>> {
        let rows: Vec<(i64, String, String, String, Option<f64>, String)> = self.db().sql("SELECT ts_ms, rule, labels, change, value, severity FROM alert_history WHERE (CAST(? AS TEXT) IS NULL OR rule = ?) ORDER BY id DESC LIMIT ?")
            .bind(rule).bind(rule).bind(limit).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::storage::alerts::HistoryRow {
                ts_ms: r.0,
                rule: r.1,
                labels: r.2,
                change: r.3,
                value: r.4,
                severity: r.5,
            })
            .collect())
    }

    async fn due_notifications(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> crate::storage::Result<Vec<crate::storage::alerts::OutboxRow>> {
        let rows: Vec<crate::storage::alerts::OutboxTuple> = self.db().sql("SELECT id, created_ms, channel, idempotency_key, payload, attempts, parts_sent, group_key, batch FROM outbox WHERE sent_ms IS NULL AND failed_ms IS NULL AND next_attempt_ms <= ? ORDER BY id LIMIT ?")
            .bind(now_ms).bind(limit).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::alerts::outbox_row)
            .collect())
    }

    async fn claim_batch(&self, ids: &[i64], batch: i64) -> crate::storage::Result<()> {
        let mut tx = self.db().begin().await?;
        for id in ids {
            tx.sql("UPDATE outbox SET batch = ? WHERE id = ? AND batch IS NULL")
                .bind(batch)
                .bind(id)
                .execute()
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn batch_notifications(
        &self,
        batch: i64,
    ) -> crate::storage::Result<Vec<crate::storage::alerts::OutboxRow>> {
        let rows: Vec<crate::storage::alerts::OutboxTuple> = self.db().sql("SELECT id, created_ms, channel, idempotency_key, payload, attempts, parts_sent, group_key, batch FROM outbox WHERE batch = ? ORDER BY id")
            .bind(batch).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::alerts::outbox_row)
            .collect())
    }

    async fn notification_sent(&self, batch: i64, now_ms: i64) -> crate::storage::Result<()> {
        self.db().sql("UPDATE outbox SET sent_ms = ?, attempts = attempts + 1, last_error = NULL WHERE batch = ?")
            .bind(now_ms).bind(batch).execute().await?;
        Ok(())
    }

    async fn notification_progress(
        &self,
        batch: i64,
        parts_sent: i64,
    ) -> crate::storage::Result<()> {
        self.db()
            .sql("UPDATE outbox SET parts_sent = ? WHERE batch = ?")
            .bind(parts_sent)
            .bind(batch)
            .execute()
            .await?;
        Ok(())
    }

    async fn notification_defer(&self, batch: i64, next_ms: i64) -> crate::storage::Result<()> {
        self.db()
            .sql("UPDATE outbox SET next_attempt_ms = ? WHERE batch = ?")
            .bind(next_ms)
            .bind(batch)
            .execute()
            .await?;
        Ok(())
    }

    async fn notification_retry(
        &self,
        batch: i64,
        next_ms: i64,
        parts_sent: i64,
        error: &str,
    ) -> crate::storage::Result<()> {
        self.db().sql("UPDATE outbox SET next_attempt_ms = ?, parts_sent = ?, attempts = attempts + 1, last_error = ? WHERE batch = ?")
            .bind(next_ms).bind(parts_sent).bind(error).bind(batch).execute().await?;
        Ok(())
    }

    async fn notification_failed(
        &self,
        batch: i64,
        now_ms: i64,
        parts_sent: i64,
        error: &str,
    ) -> crate::storage::Result<()> {
        self.db().sql("UPDATE outbox SET failed_ms = ?, parts_sent = ?, attempts = attempts + 1, last_error = ? WHERE batch = ?")
            .bind(now_ms).bind(parts_sent).bind(error).bind(batch).execute().await?;
        Ok(())
    }

    async fn outbox_counts(&self) -> crate::storage::Result<(i64, i64, i64)> {
        Ok(self.db().sql("SELECT count(sent_ms), count(*) - count(sent_ms) - count(failed_ms), count(failed_ms) FROM outbox")
            .fetch_one().await?)
    }
}
