//! dozor's alert about itself: when a notification is given up for good
//! (chat not found, bot blocked, a webhook answering 4xx), a critical
//! `DozorNotificationFailed` alert goes to every other target of the
//! "default" channel through the same outbox, and into the history, so a
//! broken receiver does not fail silently. It never alerts about its own
//! failures (no loops).

use super::notify::{Message, Notification};
use crate::storage::{HistoryRow, OutboxItem, RuleUpdate, Store};

pub const RULE: &str = "DozorNotificationFailed";

/// Queues the self-alert for a message given up on `channel`.
pub async fn raise(
    store: &Store,
    fixed_targets: &[String],
    channel: &str,
    batch: i64,
    failed: &Message,
    reason: &str,
    now_ms: i64,
) -> crate::storage::Result<()> {
    if failed.alerts.iter().all(|a| a.alertname() == RULE) {
        return Ok(());
    }
    let mut targets = default_targets(store, fixed_targets).await?;
    targets.retain(|t| t != channel);
    // The receiver's address may hold a secret (a webhook token): name
    // only its kind and a short fingerprint of the rest.
    let (kind, target) = channel.split_once(':').unwrap_or((channel, ""));
    let receiver = match kind {
        "telegram" => format!("telegram chat {target}"),
        _ => format!("{kind} #{}", &crate::auth::hash_secret(target)[..8]),
    };
    let labels: super::state::Labels = [
        ("alertname", RULE),
        ("severity", "critical"),
        ("receiver", receiver.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let about: Vec<&str> = failed.alerts.iter().map(|a| a.alertname()).collect();
    let annotations = [
        (
            "summary".to_string(),
            format!("Notifications to {receiver} failed for good: {reason}"),
        ),
        (
            "description".to_string(),
            format!(
                "Not delivered: {}. Fix the receiver; the failure is kept in the outbox.",
                about.join(", ")
            ),
        ),
    ];
    queue(
        store,
        targets,
        labels,
        &annotations,
        "critical",
        &batch.to_string(),
        now_ms,
    )
    .await
}

/// The "default" channel's receivers: `fixed` plus every linked chat.
pub async fn default_targets(
    store: &Store,
    fixed: &[String],
) -> crate::storage::Result<Vec<String>> {
    let mut targets: Vec<String> = fixed.to_vec();
    for l in store
        .chat_links()
        .await?
        .iter()
        .filter(|l| l.channel == "default")
    {
        let t = format!("telegram:{}", l.chat_id);
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    Ok(targets)
}

/// Queues a one-off event (not a rule's alert) to `targets` through the
/// outbox, grouped by its labels as alerts are, and into the history.
/// `key` makes it unique per event (a retry does not send it twice).
pub async fn queue(
    store: &Store,
    targets: Vec<String>,
    labels: super::state::Labels,
    annotations: &[(String, String)],
    severity: &str,
    key: &str,
    now_ms: i64,
) -> crate::storage::Result<()> {
    let rule = labels.get("alertname").cloned().unwrap_or_default();
    let n = Notification {
        status: "firing".into(),
        labels: labels.clone(),
        annotations: annotations.iter().cloned().collect(),
        value: None,
        starts_at_ms: now_ms,
        ends_at_ms: None,
        repeat: false,
    };
    let payload = serde_json::to_string(&n).expect("notifications serialise");
    let labels_json = serde_json::to_string(&labels).expect("string maps serialise");
    let update = RuleUpdate {
        rule: rule.clone(),
        eval_ms: now_ms,
        alerts: Vec::new(),
        history: vec![HistoryRow {
            ts_ms: now_ms,
            rule: rule.clone(),
            labels: labels_json.clone(),
            change: "firing".into(),
            value: None,
            severity: severity.into(),
        }],
        outbox: targets
            .into_iter()
            .map(|t| OutboxItem {
                key: crate::auth::hash_secret(&format!("{rule}|{key}|{t}")),
                channel: t,
                payload: payload.clone(),
                group_key: labels_json.clone(),
                due_ms: now_ms,
            })
            .collect(),
    };
    store.save_rule_update(&update).await
}
