//! Alerting storage on SQLite and on a fresh PostgreSQL database: one
//! transaction per rule evaluation, idempotent outbox keys, NaN values,
//! and the outbox's sent / retry / failed bookkeeping.

#[macro_use]
mod support;

use dozor_server::storage::{AlertRow, HistoryRow, RuleUpdate, Store};

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
            ("telegram:1".into(), "k1".into(), "{}".into()),
            ("webhook:http://x".into(), "k2".into(), "{}".into()),
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
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 2, 0));
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
    assert_eq!(due.len(), 2);
    assert!(store.due_notifications(2999, 10).await.unwrap().is_empty());
    store
        .notification_retry(due[0].id, 9000, 1, "429")
        .await
        .unwrap();
    store
        .notification_failed(due[1].id, 3500, 0, "chat not found")
        .await
        .unwrap();
    assert!(store.due_notifications(8999, 10).await.unwrap().is_empty());
    let again = store.due_notifications(9000, 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].parts_sent, again[0].attempts),
        (1, 1, 1)
    );
    store.notification_sent(again[0].id, 9100).await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 0, 1));
}

contract!(states_history_and_outbox);
