//! Alerting end to end: rule files, the state machine with hysteresis,
//! the outbox, and Telegram through a local fake Bot API (escaping,
//! splitting, retry_after, permanent errors, an outage with a restart in
//! the middle).

use crate::support;

use dozor_server::alerting::notify::Notification;
use dozor_server::clock::Clock;
use dozor_server::storage::{OutboxItem, RuleUpdate};
use std::sync::Arc;
use support::telegram::{self, Reply};
use support::*;

/// A rule whose description has 250 lines (about 5,500 characters), so
/// every notification is split in two.
fn rule_file() -> String {
    let mut text = String::from(
        "groups:\n  - name: disks\n    interval: 1s\n    rules:\n      - alert: DiskFull\n        expr: disk_used_percent > 90\n        recovery_threshold: 80\n        labels: {severity: critical}\n        annotations:\n          summary: \"Disk on {{ $labels.host }} at {{ $value }}%\"\n          description: |\n",
    );
    for i in 0..250 {
        text.push_str(&format!("            line {i:04} of details\n"));
    }
    text
}

#[tokio::test]
async fn fires_escapes_splits_and_resolves_with_hysteresis() {
    let (fake, api) = telegram::start();
    fake.dead_chats.lock().unwrap().push(-100);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("disk.yml"), rule_file()).unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.alerting.rules_dir = Some(rules.clone());
        c.alerting.telegram_token = Some("123:TEST".into());
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.telegram_chats = vec![42, -100];
        c.alerting.group_wait = std::time::Duration::ZERO;
        c.alerting.group_interval = std::time::Duration::from_secs(1);
    })
    .await;
    let hostile = "<script>alert(1)</script>&";
    support::data::put(&server.store, "disk_used_percent", &[hostile], 95.0).await;
    let first = eventually(20, || {
        let fake = fake.clone();
        async move { (disk(&fake).len() >= 2).then(|| disk(&fake)) }
    })
    .await;
    assert_eq!(first.len(), 2, "split in two, not truncated");
    assert!(first.iter().all(|m| m.chars().count() <= 4096));
    let whole = first.join("\n");
    assert!(
        whole.starts_with("🔥 <b>FIRING</b> DiskFull [critical]"),
        "{whole}"
    );
    assert!(
        whole.contains("Disk on &lt;script&gt;alert(1)&lt;/script&gt;&amp; at 95%"),
        "{whole}"
    );
    assert!(!whole.contains("<script>"));
    for i in 0..250 {
        assert!(
            whole.contains(&format!("line {i:04} of details")),
            "line {i} lost"
        );
    }
    let sent = fake.sent();
    assert!(sent.iter().all(|b| b["parse_mode"] == "HTML"));

    // The Prometheus API shows it firing.
    let c = api_client(&server).await;
    let alerts: serde_json::Value = c
        .get(format!("{}/prometheus/api/v1/alerts", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts["data"]["alerts"][0]["state"], "firing");
    assert_eq!(alerts["data"]["alerts"][0]["labels"]["host"], hostile);

    // 85%: below the firing threshold but above recovery: still firing.
    support::data::put(&server.store, "disk_used_percent", &[hostile], 85.0).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let inside = disk(&fake);
    assert_eq!(
        inside.len(),
        2,
        "no resolution inside the band: {:?}",
        inside
            .iter()
            .map(|m| &m[..60.min(m.len())])
            .collect::<Vec<_>>()
    );
    // 70%: recovered.
    support::data::put(&server.store, "disk_used_percent", &[hostile], 70.0).await;
    let resolved = eventually(20, || {
        let fake = fake.clone();
        async move {
            fake.delivered(42)
                .into_iter()
                .find(|m| m.contains("RESOLVED"))
        }
    })
    .await;
    assert!(
        resolved.contains("RESOLVED</b> DiskFull [critical] after "),
        "{resolved}"
    );
    // The dead chat was given up on, with the reason kept.
    let (_, _, failed) = eventually(10, || {
        let s = server.store.clone();
        async move { s.outbox_counts().await.ok().filter(|c| c.2 >= 2) }
    })
    .await;
    assert!(failed >= 2);
    let metrics = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("dozor_notifications{{state=\"failed\"}} {failed}")),
        "given-up notifications are visible in /metrics"
    );
    // dozor alerted about the dead chat through the chat that works.
    let own = fake
        .delivered(42)
        .into_iter()
        .find(|m| m.contains("DozorNotificationFailed"))
        .expect("a self-alert");
    assert!(
        own.contains("Notifications to telegram chat -100 failed for good: Telegram: Bad Request: chat not found"),
        "{own}"
    );
    let history = server
        .store
        .alert_history(Some("DiskFull"), 10)
        .await
        .unwrap();
    let changes: Vec<&str> = history.iter().rev().map(|h| h.change.as_str()).collect();
    assert_eq!(changes, ["firing", "resolved"]);
    server.shutdown().await;
}

/// Messages to chat 42 about the disk, not dozor's alerts about itself.
fn disk(fake: &telegram::Fake) -> Vec<String> {
    fake.delivered(42)
        .into_iter()
        .filter(|m| !m.contains("DozorNotificationFailed"))
        .collect()
}

fn notification(i: usize) -> String {
    serde_json::to_string(&Notification {
        status: "firing".into(),
        labels: [("alertname".to_string(), format!("A{i}"))]
            .into_iter()
            .collect(),
        annotations: Default::default(),
        value: Some(i as f64),
        starts_at_ms: 0,
        ends_at_ms: None,
        repeat: false,
    })
    .unwrap()
}

/// An outbox row in its own group (as an alert of its own rule).
fn item(channel: &str, key: &str, payload: String, due_ms: i64) -> OutboxItem {
    OutboxItem {
        channel: channel.into(),
        key: key.into(),
        group_key: format!("{{\"k\":\"{key}\"}}"),
        payload,
        due_ms,
    }
}

/// retry_after is honoured to the second; nothing is sent twice.
#[tokio::test]
async fn retry_after_is_honoured() {
    let (fake, api) = telegram::start();
    fake.script.lock().unwrap().extend([Reply::RetryAfter(30)]);
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let clock = Clock::manual(now_ms());
    let u = RuleUpdate {
        rule: "r".into(),
        eval_ms: clock.now_ms(),
        outbox: vec![item("telegram:42", "k1", notification(1), clock.now_ms())],
        ..Default::default()
    };
    store.save_rule_update(&u).await.unwrap();
    // Saving the same key again (a retried evaluation) adds nothing.
    store.save_rule_update(&u).await.unwrap();
    let d = telegram::dispatcher(&store, &api, &clock);
    assert_eq!(d.drain_once().await.unwrap(), 0, "429");
    clock.advance(29_000);
    assert_eq!(d.drain_once().await.unwrap(), 0, "still waiting");
    assert_eq!(fake.sent().len(), 1, "no request before retry_after");
    clock.advance(1_000);
    assert_eq!(d.drain_once().await.unwrap(), 1);
    assert_eq!(fake.delivered(42).len(), 1);
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 0, 0));
}

/// Ten minutes without Telegram, the server restarting in the middle:
/// every alert arrives after recovery, none lost, none twice.
#[tokio::test]
async fn an_outage_with_a_restart_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let clock = Clock::manual(now_ms());
    // Reserve a port, then keep it closed: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = format!("http://127.0.0.1:{port}/");
    let d = telegram::dispatcher(&store, &api, &clock);
    for i in 0..20 {
        let u = RuleUpdate {
            rule: format!("r{i}"),
            eval_ms: clock.now_ms(),
            outbox: vec![item(
                &format!("telegram:{}", 7 + i % 4),
                &format!("key{i}"),
                notification(i),
                clock.now_ms(),
            )],
            ..Default::default()
        };
        store.save_rule_update(&u).await.unwrap();
        if i % 5 == 0 {
            d.drain_once().await.unwrap();
        }
        clock.advance(15_000);
    }
    // Five minutes in, the server restarts: a new dispatcher, same store.
    drop(d);
    let d = telegram::dispatcher(&store, &api, &clock);
    for _ in 0..5 {
        clock.advance(60_000);
        assert_eq!(d.drain_once().await.unwrap(), 0);
    }
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 20, 0), "all kept");
    // Telegram is back on the same address.
    let fake = Arc::new(telegram::Fake::default());
    telegram::serve(
        fake.clone(),
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(),
    );
    clock.advance(60_000);
    assert_eq!(d.drain_once().await.unwrap(), 20);
    let got: Vec<String> = (7..11).flat_map(|c| fake.delivered(c)).collect();
    assert_eq!(got.len(), 20);
    for i in 0..20 {
        let n = got
            .iter()
            .filter(|m| m.contains(&format!(" A{i} ")))
            .count();
        assert_eq!(n, 1, "A{i} delivered exactly once");
    }
    assert_eq!(d.drain_once().await.unwrap(), 0);
    assert_eq!(store.outbox_counts().await.unwrap(), (20, 0, 0));
}

/// Two series that become one after a rule renames them (a recording rule
/// gives them one name; an alert drops the name) are an error, as in
/// Prometheus: nothing is recorded under one series for two, no alert
/// hides the other, and the rule's health says why.
#[tokio::test]
async fn rules_refuse_results_that_become_the_same_series() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("dup.yml"),
        "groups:\n  - name: dup\n    interval: 1s\n    rules:\n      \
         - record: dup:sum\n        expr: '{__name__=~\"dup_.*\"}'\n      \
         - alert: Dup\n        expr: '{__name__=~\"dup_.*\"} > 0'\n      \
         - record: single:sum\n        expr: dup_a\n",
    )
    .unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.alerting.rules_dir = Some(rules.clone());
    })
    .await;
    // In one write, so no evaluation sees one without the other.
    let now = now_ms();
    let labels: dozor_common::Labels = [("host".to_string(), "h".to_string())].into();
    let one = |name: &str, v: f64| {
        dozor_common::SeriesBatch::new(
            name,
            labels.clone(),
            vec![dozor_common::Sample::new(now, v)],
        )
    };
    server
        .store
        .append(&[one("dup_a", 1.0), one("dup_b", 2.0)], now)
        .await
        .unwrap();
    let c = api_client(&server).await;
    let base = server.url();
    let errors = eventually(20, || {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let r: serde_json::Value = c
                .get(format!("{base}/prometheus/api/v1/rules"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let rules = r["data"]["groups"][0]["rules"].as_array()?.clone();
            let errors: Vec<String> = rules
                .iter()
                .map(|r| r["lastError"].as_str().unwrap_or("").to_string())
                .collect();
            (errors.iter().filter(|e| !e.is_empty()).count() == 2).then_some(errors)
        }
    })
    .await;
    assert!(
        errors[0].contains("same labelset after applying rule labels"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("same labelset after applying alert labels"),
        "{errors:?}"
    );
    assert_eq!(errors[2], "", "a rule with one result is fine");
    assert!(support::data::query(&c, &base, "dup:sum").await.is_empty());
    assert_eq!(support::data::query(&c, &base, "single:sum").await.len(), 1);
    server.shutdown().await;
}
