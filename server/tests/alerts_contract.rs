//! Alerting storage on SQLite and on a fresh PostgreSQL database: one
//! transaction per rule evaluation, idempotent outbox keys, NaN values,
//! and the outbox's sent / retry / failed bookkeeping.

use crate::support;

use dozor_server::storage::{AlertRow, HistoryRow, OutboxItem, RuleUpdate, Store};

fn alert(rule: &str, labels: &str, v: f64) -> AlertRow {
    AlertRow {
        rule: rule.into(),
        labels: labels.into(),
        state: "firing".into(),
        active_at_ms: 1000,
        fired_at_ms: Some(2000),
        last_seen_ms: 3000,
        value: dozor_server::storage::alerts::finite(v),
        last_notified_ms: Some(2000),
    }
}

async fn states_history_and_outbox(store: Store) {
    let u = RuleUpdate {
        rule: "DiskFull".into(),
        eval_ms: 3000,
        alerts: vec![
            alert("DiskFull", r#"{"host":"a"}"#, 95.0),
            alert("DiskFull", r#"{"host":"b"}"#, f64::NAN),
        ],
        history: vec![HistoryRow {
            ts_ms: 3000,
            rule: "DiskFull".into(),
            labels: r#"{"host":"a"}"#.into(),
            change: "firing".into(),
            value: Some(95.0),
            severity: "critical".into(),
        }],
        outbox: vec![
            item("telegram:1", "k1", "{}", 3000),
            item("webhook:http://x", "k2", "{}", 3000),
            item("telegram:1", "k3", "{}", 3000),
            item("telegram:1", "k4", "{}", 5000),
        ],
    };
    store.save_rule_update(&u).await.unwrap();
    // The same evaluation saved again: states replaced, outbox unchanged.
    store.save_rule_update(&u).await.unwrap();
    let (alerts, evals) = store.load_alerts().await.unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].value, Some(95.0));
    assert_eq!(alerts[1].value, None, "NaN comes back as no value");
    assert_eq!(evals, [("DiskFull".to_string(), 3000)]);
    assert_eq!(
        store
            .alert_history(Some("DiskFull"), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(store
        .alert_history(Some("Other"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 4, 0));
    // A later evaluation with no alerts clears the rule's states only.
    store
        .save_rule_update(&RuleUpdate {
            rule: "DiskFull".into(),
            eval_ms: 4000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(store.load_alerts().await.unwrap().0.is_empty());

    let due = store.due_notifications(3000, 10).await.unwrap();
    assert_eq!(due.len(), 3, "k4 is not due yet");
    assert!(due.iter().all(|r| r.batch.is_none() && r.group_key == "g"));
    assert!(store.due_notifications(2999, 10).await.unwrap().is_empty());
    // k1 and k3 go to the same chat: one message, claimed together.
    let (k1, k2, k3) = (due[0].id, due[1].id, due[2].id);
    store.claim_batch(&[k1, k3], k1).await.unwrap();
    store.claim_batch(&[k2], k2).await.unwrap();
    // Claiming is once only: a later claim does not move the rows.
    store.claim_batch(&[k3], 999).await.unwrap();
    let batch = store.batch_notifications(k1).await.unwrap();
    assert_eq!(batch.iter().map(|r| r.id).collect::<Vec<_>>(), [k1, k3]);
    assert!(store.batch_notifications(999).await.unwrap().is_empty());
    store.notification_retry(k1, 9000, 1, "429").await.unwrap();
    store
        .notification_failed(k2, 3500, 0, "chat not found")
        .await
        .unwrap();
    let later = store.due_notifications(8999, 10).await.unwrap();
    assert_eq!(later.len(), 1, "only k4, due at 5000 and unclaimed");
    assert_eq!(later[0].batch, None);
    let again = store.due_notifications(9000, 10).await.unwrap();
    assert_eq!(again.len(), 3);
    assert!(again[..2]
        .iter()
        .all(|r| (r.batch, r.parts_sent, r.attempts) == (Some(k1), 1, 1)));
    store.notification_sent(k1, 9100).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap(), (2, 1, 1));
}

fn item(channel: &str, key: &str, payload: &str, due_ms: i64) -> OutboxItem {
    OutboxItem {
        channel: channel.into(),
        key: key.into(),
        payload: payload.into(),
        group_key: "g".into(),
        due_ms,
    }
}

contract!(states_history_and_outbox);
