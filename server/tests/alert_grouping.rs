//! Grouping, as Alertmanager does it: alerts of one group that fire
//! together go out as one message (Telegram and the webhook), a group's
//! later changes wait for group_interval, and `group_by` splits groups.

use crate::support;

use axum::extract::State;
use axum::Json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::data::put;
use support::telegram;
use support::*;

const RULES: &str = r#"
groups:
  - name: g
    interval: 1s
    rules:
      - alert: DiskFull
        expr: disk_used_percent > 90
        group_wait: 2s
        group_interval: 1h
      - alert: HostHot
        expr: temp_celsius > 80
        group_by: [host]
        group_wait: 0s
"#;

type Hooks = Arc<Mutex<Vec<serde_json::Value>>>;

/// A real HTTP receiver of Alertmanager-style webhooks.
async fn webhook_receiver() -> (Hooks, String) {
    let got: Hooks = Default::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(got): State<Hooks>, Json(body): Json<serde_json::Value>| async move {
                    got.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (got, url)
}

#[tokio::test]
async fn alerts_of_one_group_go_out_as_one_message() {
    let (fake, api) = telegram::start();
    let (hooks, hook_url) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("r.yml"), RULES).unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.alerting.rules_dir = Some(rules.clone());
        c.alerting.telegram_token = Some("123:TEST".into());
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.telegram_chats = vec![9];
        c.alerting.webhooks = vec![hook_url.clone()];
    })
    .await;
    put(&server.store, "disk_used_percent", &["a", "b", "c"], 95.0).await;
    let msg = eventually(20, || {
        let fake = fake.clone();
        async move { fake.delivered(9).first().cloned() }
    })
    .await;
    assert!(
        msg.starts_with("📣 <b>3 alerts</b> (3 firing, 0 resolved) alertname=DiskFull"),
        "{msg}"
    );
    for h in ["host=a", "host=b", "host=c"] {
        assert!(msg.contains(h), "{h} in {msg}");
    }
    let hook = eventually(10, || {
        let hooks = hooks.clone();
        async move { hooks.lock().unwrap().first().cloned() }
    })
    .await;
    assert_eq!(hook["alerts"].as_array().unwrap().len(), 3);
    assert_eq!(
        hook["groupLabels"],
        serde_json::json!({"alertname": "DiskFull"})
    );
    assert_eq!(hook["commonLabels"]["alertname"], "DiskFull");
    assert!(hook["commonLabels"].get("host").is_none());

    // A fourth disk joins the group inside group_interval (1h): held back.
    put(&server.store, "disk_used_percent", &["d"], 95.0).await;
    // group_by [host]: each hot host is a message of its own.
    put(&server.store, "temp_celsius", &["x", "y"], 85.0).await;
    eventually(10, || {
        let fake = fake.clone();
        async move {
            let hot = fake.delivered(9);
            (hot.iter().filter(|m| m.contains("HostHot")).count() >= 2).then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = fake.delivered(9);
    let hot: Vec<&String> = all.iter().filter(|m| m.contains("HostHot")).collect();
    assert_eq!(hot.len(), 2, "{hot:?}");
    assert!(hot
        .iter()
        .all(|m| m.starts_with("🔥 <b>FIRING</b> HostHot")));
    assert!(
        !all.iter().any(|m| m.contains("host=d")),
        "host d waits for the group's next interval: {all:?}"
    );
    let (sent, pending, failed) = server.store.outbox_counts().await.unwrap();
    assert_eq!(
        (pending, failed),
        (2, 0),
        "d's Telegram and webhook rows wait"
    );
    assert_eq!(sent, 3 * 2 + 2 * 2, "rows of every message sent are marked");
    server.shutdown().await;
}
