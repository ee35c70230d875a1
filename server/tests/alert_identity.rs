//! Alert identity: two rules may share an alert name (Prometheus allows
//! it; one rule per severity is common), and each keeps its own alerts,
//! across a restart too. States stored before rules had keys (filed under
//! the bare name) are adopted by the rule of that name without being
//! announced again.

use crate::support;

use dozor_common::{Sample, SeriesBatch};
use dozor_server::alerting::engine::Alerting;
use dozor_server::alerting::rules::{self, Rule};
use dozor_server::alerting::AlertingConfig;
use dozor_server::clock::Clock;
use dozor_server::storage::{AlertRow, RuleUpdate, Store};
use support::*;

/// One alert name twice in a group: warning above 80, critical above 90.
const RULES: &str = r#"
groups:
  - name: disks
    interval: 1s
    rules:
      - alert: DiskFull
        expr: disk_used_percent > 80
        labels: {severity: warning}
      - alert: DiskFull
        expr: disk_used_percent > 90
        labels: {severity: critical}
"#;

fn config() -> AlertingConfig {
    AlertingConfig {
        telegram_chats: vec![42],
        group_wait: std::time::Duration::ZERO,
        ..AlertingConfig::defaults()
    }
}

async fn start(store: &Store, clock: &Clock) -> Alerting {
    let groups = rules::parse("disks.yml", RULES, 60_000).unwrap();
    let engine = dozor_server::storage::engine(store, Default::default());
    Alerting::load(config(), groups, engine, store.clone(), clock.clone())
        .await
        .unwrap()
}

/// The keys of the group's two rules, in order.
fn keys(a: &Alerting) -> Vec<String> {
    a.groups[0]
        .rules
        .iter()
        .map(|r| r.key().to_string())
        .collect()
}

/// Severity of each firing alert per rule key.
async fn firing(a: &Alerting) -> Vec<(String, Vec<String>)> {
    let snapshot = a.snapshot().await;
    keys(a)
        .into_iter()
        .map(|k| {
            let sev = snapshot
                .get(&k)
                .into_iter()
                .flatten()
                .map(|(l, _)| l["severity"].clone())
                .collect();
            (k, sev)
        })
        .collect()
}

/// `disk_used_percent{host="web-1"}` = `v` at the clock's time.
async fn put(store: &Store, clock: &Clock, v: f64) {
    let labels = [("host".to_string(), "web-1".to_string())];
    let batch = SeriesBatch::new(
        "disk_used_percent",
        labels.into_iter().collect(),
        vec![Sample::new(clock.now_ms(), v)],
    );
    store.append(&[batch], clock.now_ms()).await.unwrap();
}

async fn queued(store: &Store) -> usize {
    store
        .due_notifications(i64::MAX / 2, 1000)
        .await
        .unwrap()
        .len()
}

async fn duplicate_names_keep_separate_states(store: Store) {
    let clock = Clock::manual(now_ms());
    let a = start(&store, &clock).await;
    let k = keys(&a);
    assert_ne!(k[0], k[1], "two rules, two identities");
    assert_eq!(rules::rule_name(&k[0]), "DiskFull");

    // 85%: only the warning rule fires.
    put(&store, &clock, 85.0).await;
    a.eval_group(&a.groups[0], clock.now_ms()).await;
    assert_eq!(
        firing(&a).await,
        vec![
            (k[0].clone(), vec!["warning".to_string()]),
            (k[1].clone(), vec![])
        ]
    );
    assert_eq!(queued(&store).await, 1);

    // 95%: both fire, each with its own alert; the warning one is not
    // announced again.
    clock.advance(1_000);
    put(&store, &clock, 95.0).await;
    a.eval_group(&a.groups[0], clock.now_ms()).await;
    assert_eq!(
        firing(&a).await,
        vec![
            (k[0].clone(), vec!["warning".to_string()]),
            (k[1].clone(), vec!["critical".to_string()])
        ]
    );
    assert_eq!(queued(&store).await, 2);

    // A restart restores both, and nothing is announced twice.
    clock.advance(1_000);
    let b = start(&store, &clock).await;
    assert_eq!(firing(&b).await, firing(&a).await);
    put(&store, &clock, 95.0).await;
    b.eval_group(&b.groups[0], clock.now_ms()).await;
    assert_eq!(queued(&store).await, 2);
    assert_eq!(b.health(&k[0]).and_then(|h| h.1), None);
    assert!(b.health(&k[1]).is_some(), "health is kept per rule");
}

async fn legacy_states_are_adopted_without_notifying(store: Store) {
    let clock = Clock::manual(now_ms());
    let t0 = clock.now_ms() - 10_000;
    let labels = r#"{"alertname":"DiskFull","host":"web-1","severity":"warning"}"#;
    // As an older dozor stored it: under the rule's bare name, announced.
    store
        .save_rule_update(&RuleUpdate {
            rule: "DiskFull".into(),
            eval_ms: t0,
            alerts: vec![AlertRow {
                rule: "DiskFull".into(),
                labels: labels.into(),
                state: "firing".into(),
                active_at_ms: t0,
                fired_at_ms: Some(t0),
                last_seen_ms: t0,
                value: Some(85.0),
                last_notified_ms: Some(t0),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let a = start(&store, &clock).await;
    let k = keys(&a);
    let snapshot = a.snapshot().await;
    assert!(!snapshot.contains_key("DiskFull"), "moved off the name");
    let adopted = &snapshot[&k[0]];
    assert_eq!(adopted.len(), 1);
    let al = adopted.values().next().unwrap();
    assert_eq!(
        (al.fired_at_ms, al.last_notified_ms),
        (Some(t0), Some(t0)),
        "the alert keeps its history"
    );
    // Stored under the key now: a second restart finds it there, and the
    // name's rows are gone (they would otherwise come back stale).
    let (rows, _) = store.load_alerts().await.unwrap();
    let stored: Vec<&str> = rows.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(stored, vec![k[0].as_str()]);

    // Still firing: not announced again (the repeat interval is hours).
    put(&store, &clock, 85.0).await;
    a.eval_group(&a.groups[0], clock.now_ms()).await;
    assert_eq!(queued(&store).await, 0);
    let Rule::Alert(def) = &a.groups[0].rules[0] else {
        panic!("an alerting rule")
    };
    assert_eq!(def.name, "DiskFull");
}

contract!(
    duplicate_names_keep_separate_states,
    legacy_states_are_adopted_without_notifying
);

#[test]
fn keys_cannot_be_confused() {
    // Separators inside names cannot make two rules' keys equal.
    assert_ne!(
        rules::rule_key("a.yml", "g|x", "N", 0),
        rules::rule_key("a.yml|g", "x", "N", 0)
    );
    assert_eq!(rules::rule_name(&rules::rule_key("f", "g", "Up", 3)), "Up");
    assert_eq!(rules::rule_name("LegacyName"), "LegacyName");
}
