//! Delivery across a crash and under Telegram's rate limits, against the
//! local fake Bot API: a long message killed after its first part resumes
//! at the second (nothing sent twice), and a `retry_after` for a chat holds
//! every message to that chat, not only the one refused, while other chats
//! go on.

use crate::support;

use dozor_server::alerting::notify::Notification;
use dozor_server::clock::Clock;
use dozor_server::storage::{OutboxItem, RuleUpdate, Store};
use support::telegram::{self, Reply};
use support::*;

fn notification(name: &str, summary: &str) -> String {
    serde_json::to_string(&Notification {
        status: "firing".into(),
        labels: [("alertname".to_string(), name.to_string())].into(),
        annotations: [("summary".to_string(), summary.to_string())].into(),
        value: Some(1.0),
        starts_at_ms: 0,
        ends_at_ms: None,
        repeat: false,
    })
    .unwrap()
}

async fn queue(store: &Store, chat: i64, name: &str, summary: &str, now: i64) {
    store
        .save_rule_update(&RuleUpdate {
            rule: name.into(),
            eval_ms: now,
            outbox: vec![OutboxItem {
                channel: format!("telegram:{chat}"),
                key: name.into(),
                group_key: format!("{{\"alertname\":\"{name}\"}}"),
                payload: notification(name, summary),
                due_ms: now,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_long_message_killed_after_its_first_part_resumes_at_the_second() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let clock = Clock::manual(now_ms());
    // Long enough for three parts.
    let summary: String = (0..450)
        .map(|i| format!("line {i} of the summary\n"))
        .collect();
    queue(&store, 42, "Long", &summary, clock.now_ms()).await;
    // Part 1 is accepted; part 2 never answered; then the process dies.
    fake.script.lock().unwrap().extend([Reply::Ok, Reply::Hang]);
    let d = std::sync::Arc::new(telegram::dispatcher(&store, &api, &clock));
    let running = {
        let d = d.clone();
        tokio::spawn(async move { d.drain_once().await })
    };
    eventually(10, || {
        let n = fake.sent().len();
        async move { (n == 2).then_some(()) }
    })
    .await;
    running.abort();
    let _ = running.await;
    drop(d);

    // The restarted dispatcher sends parts 2 and 3, never part 1 again.
    let d = telegram::dispatcher(&store, &api, &clock);
    assert_eq!(d.drain_once().await.unwrap(), 1);
    let got = fake.delivered(42);
    assert_eq!(got.len(), 3, "each part once: {got:#?}");
    assert!(got[0].contains("line 0 of"));
    assert!(!got[1].contains("line 0 of") && !got[2].contains("line 0 of"));
    assert!(got[2].contains("line 449 of"));
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 0, 0));
}

#[tokio::test]
async fn retry_after_holds_every_message_to_that_chat() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let clock = Clock::manual(now_ms());
    for name in ["A", "B", "C"] {
        queue(&store, 42, name, "x", clock.now_ms()).await;
    }
    queue(&store, 43, "Other", "x", clock.now_ms()).await;
    fake.script.lock().unwrap().extend([Reply::RetryAfter(30)]);
    let d = telegram::dispatcher(&store, &api, &clock);
    assert_eq!(d.drain_once().await.unwrap(), 1, "chat 43 is not held");
    assert_eq!(fake.delivered(43).len(), 1);
    let to_42 = || fake.sent().iter().filter(|b| b["chat_id"] == 42).count();
    assert_eq!(to_42(), 1, "one request to chat 42, refused");
    // Passes during the wait ask Telegram nothing about chat 42.
    for _ in 0..5 {
        clock.advance(5_000);
        assert_eq!(d.drain_once().await.unwrap(), 0);
    }
    assert_eq!(to_42(), 1, "no request to chat 42 before retry_after");
    clock.advance(5_000);
    assert_eq!(d.drain_once().await.unwrap(), 3);
    let got = fake.delivered(42);
    assert_eq!(got.len(), 3);
    assert!(
        got[0].contains('A') && got[1].contains('B') && got[2].contains('C'),
        "{got:?}"
    );
}
