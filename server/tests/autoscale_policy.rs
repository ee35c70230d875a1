//! The autoscaler's decisions end to end without Docker: a host played by
//! the test (its heartbeat reports the service's container, its task
//! answers are written by hand) and the service's metrics written as a
//! collector would. A dry run records and tells, and hands nothing to the
//! host; the same policy for real hands over a task, and the host's
//! answer reaches the configured Telegram chat as `ServiceScaled`; every
//! decision is counted and audited. The preview replays stored history
//! through the CPU, requests-per-second and p95 queries and scales where
//! the history ran hot.

use crate::support;

use dozor_common::containers::ContainerInfo;
use dozor_common::protocol::{Capabilities, HeartbeatRequest, TaskResult, PROTOCOL_VERSION};
use dozor_common::{Labels, Sample, SeriesBatch};
use dozor_server::storage::Scope;
use dozor_server::storage::Store;
use serde_json::{json, Value};
use std::time::Duration;
use support::autoscale::{answer, scale_events, scale_tasks};
use support::data::value_of;
use support::telegram;
use support::*;

const MIN: i64 = 60_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn container(name: &str) -> ContainerInfo {
    ContainerInfo {
        id: format!("{name}-id"),
        name: name.into(),
        image: "busybox".into(),
        state: "running".into(),
        labels: [("dozor.service".to_string(), "svc".to_string())].into(),
        ..Default::default()
    }
}

async fn heartbeat(base: &str, key: &str, containers: &[&str]) {
    let hb = HeartbeatRequest {
        capabilities: Some(Capabilities {
            protocol: PROTOCOL_VERSION,
            task_kinds: vec!["service.scale".into()],
            ..Default::default()
        }),
        containers: Some(containers.iter().map(|c| container(c)).collect()),
        ..Default::default()
    };
    let r = post_heartbeat(base, Some(key), serde_json::to_vec(&hb).unwrap(), None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
}

/// The hot stretch of the stored history: from 100 to 70 minutes ago.
fn hot(t: i64, now: i64) -> bool {
    (now - 100 * MIN..now - 70 * MIN).contains(&t)
}

/// Two hours of what a collector and the access log would have sent,
/// every 15 s, up to a minute ago: CPU at 90% of a core while hot and
/// 10% otherwise; 100 requests/s while hot (all slower than 0.5 s) and
/// 10/s otherwise (all under 0.1 s).
async fn backfill(store: &Store, now: i64) -> f64 {
    let base = labels(&[("host", "web-1"), ("service", "svc")]);
    let with = |extra: &[(&str, &str)]| {
        let mut l = base.clone();
        l.extend(labels(extra));
        l
    };
    let (mut cpu, mut reqs, mut fast, mut slow) = (0.0, 0.0, 0.0, 0.0);
    let mut t = now - 120 * MIN;
    while t <= now - MIN {
        let h = hot(t, now);
        cpu += 15.0 * if h { 0.9 } else { 0.1 };
        let n = 15.0 * if h { 100.0 } else { 10.0 };
        reqs += n;
        if h {
            slow += n
        } else {
            fast += n
        }
        let series = [
            (
                "container_cpu_usage_seconds_total",
                with(&[("container", "svc-1")]),
                cpu,
            ),
            (
                "dozor_container_state",
                with(&[("container", "svc-1"), ("state", "running")]),
                1.0,
            ),
            ("dozor_http_requests_total", with(&[("code", "200")]), reqs),
            (
                "dozor_http_request_duration_seconds_bucket",
                with(&[("le", "0.1")]),
                fast,
            ),
            (
                "dozor_http_request_duration_seconds_bucket",
                with(&[("le", "0.5")]),
                fast,
            ),
            (
                "dozor_http_request_duration_seconds_bucket",
                with(&[("le", "1")]),
                fast + slow,
            ),
            (
                "dozor_http_request_duration_seconds_bucket",
                with(&[("le", "+Inf")]),
                fast + slow,
            ),
        ];
        let batches: Vec<SeriesBatch> = series
            .into_iter()
            .map(|(m, l, v)| SeriesBatch::new(m, l, vec![Sample::new(t, v)]))
            .collect();
        store.append(&batches, now).await.unwrap();
        t += 15_000;
    }
    cpu
}

/// From now on the container runs at 90% of a core, a sample every half
/// second, as long as the test runs.
fn run_hot(store: Store, mut cpu: f64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            cpu += 0.45;
            let l = labels(&[
                ("host", "web-1"),
                ("service", "svc"),
                ("container", "svc-1"),
            ]);
            let b = SeriesBatch::new(
                "container_cpu_usage_seconds_total",
                l,
                vec![Sample::new(now_ms(), cpu)],
            );
            let _ = store.append(&[b], now_ms()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// The host web-1 (enrolled, reporting svc-1) and the service svc on
/// it; the host's agent key and an editor's API client.
async fn host_and_service(server: &dozor_server::Server) -> (String, reqwest::Client) {
    let base = server.url();
    let key = enroll(&base, &enroll_token(server), "web-1").await;
    heartbeat(&base, &key, &["svc-1"]).await;
    let c = api_client_with(server, Scope::Write).await;
    let r = c
        .post(format!("{base}/api/v1/services"))
        .json(&json!({"name": "svc", "host": "web-1", "domains": ["svc.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    (key, c)
}

fn policy(dry_run: bool) -> Value {
    json!({
        "min": 1, "max": 3, "metric": "cpu", "window_s": 5, "dry_run": dry_run,
        "up": {"threshold": 80.0, "for_s": 1, "step": 1, "cooldown_s": 600},
        "down": {"threshold": 20.0, "for_s": 600, "step": 1, "cooldown_s": 600},
    })
}

#[tokio::test]
async fn a_dry_run_tells_and_changes_nothing_and_a_real_scale_reaches_telegram() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.autoscale_interval = Some(Duration::from_millis(300));
        c.alerting.telegram_token = Some("123:TEST".into());
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.telegram_chats = vec![9];
    })
    .await;
    let base = server.url();
    let (key, c) = host_and_service(&server).await;
    let token = api_token(&server, Scope::Write).await;
    let cpu = backfill(&server.store, now_ms()).await;
    let writer = run_hot(server.store.clone(), cpu);

    // Dry run: decided, recorded, told; nothing for the host.
    let r = c
        .put(format!("{base}/api/v1/services/svc/autoscale"))
        .json(&policy(true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let dry = eventually(30, || async {
        scale_events(&base, &token, "svc")
            .await
            .into_iter()
            .find(|e| e["kind"] == "scale")
    })
    .await;
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(
        (dry["from"].as_u64(), dry["to"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(dry["task_id"], Value::Null, "{dry}");
    let v = dry["value"].as_f64().unwrap();
    assert!((85.0..95.0).contains(&v), "90% of a core, got {v}");
    let told = eventually(20, || async {
        fake.delivered(9)
            .into_iter()
            .find(|m| m.contains("svc would scale up 1 → 2"))
    })
    .await;
    assert!(told.contains("dry run"), "{told}");
    assert!(
        scale_tasks(&base, &key).await.is_empty(),
        "a dry run asks nothing of the host"
    );
    let counted = eventually(20, || async {
        value_of(
            &c,
            &base,
            r#"dozor_autoscale_decisions_total{service="svc",direction="up",result="dry_run"}"#,
        )
        .await
    })
    .await;
    assert!(counted.parse::<f64>().unwrap() >= 1.0, "{counted}");

    // The same policy for real: a task, the host's answer, the message.
    let r = c
        .put(format!("{base}/api/v1/services/svc/autoscale"))
        .json(&policy(false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let task = eventually(30, || async { scale_tasks(&base, &key).await.pop() }).await;
    assert_eq!(task["payload"]["replicas"], 2, "{task}");
    heartbeat(&base, &key, &["svc-1", "svc-r1"]).await;
    let result = TaskResult {
        task_id: task["id"].as_i64().unwrap(),
        ok: true,
        message: String::new(),
        output: json!({"before": 1, "after": 2, "created": ["svc-r1"], "removed": []}),
        error: None,
    };
    answer(&base, &key, &result).await;
    let msg = eventually(30, || async {
        fake.delivered(9)
            .into_iter()
            .find(|m| m.contains("svc scaled up 1 → 2"))
    })
    .await;
    assert!(msg.contains("ServiceScaled"), "{msg}");
    let events = scale_events(&base, &token, "svc").await;
    let real: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "scale" && e["dry_run"] == false)
        .collect();
    assert_eq!(real.len(), 1, "one action within the cooldown: {events:#?}");
    assert_eq!(real[0]["result"], "ok");

    // The Scaling screen marks both over the replica chart.
    let cookie = web_session(&server).await;
    let page = support::web::get(&base, "/services/svc/scaling", &cookie).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("class=\"mark\"").count(), 2, "{html}");
    assert!(html.contains("up 1 → 2 by policy"), "{html}");
    assert!(html.contains("running replicas"), "{html}");
    assert!(
        !html.contains("No data"),
        "the replica series is charted: {html}"
    );

    // Both decisions are in the audit log, under the autoscaler.
    let audit = server.store.audit_log(50).await.unwrap();
    let decisions: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "autoscale.decision" && a.actor == "autoscaler")
        .collect();
    assert_eq!(decisions.len(), 2, "{audit:#?}");
    writer.abort();
    server.shutdown().await;
}

async fn preview(c: &reqwest::Client, base: &str, p: Value) -> Value {
    let r = c
        .post(format!("{base}/api/v1/services/svc/autoscale/preview"))
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_preview_scales_where_the_history_ran_hot_for_each_metric() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let (_key, c) = host_and_service(&server).await;
    let now = now_ms();
    backfill(&server.store, now).await;

    for (metric, up, down, hot_value) in [
        ("cpu", 80.0, 30.0, 90.0),
        ("rps", 50.0, 20.0, 100.0),
        ("p95", 0.5, 0.2, 0.975),
    ] {
        let p = json!({
            "min": 1, "max": 3, "metric": metric, "window_s": 60,
            "up": {"threshold": up, "for_s": 120, "step": 1, "cooldown_s": 120},
            "down": {"threshold": down, "for_s": 300, "step": 1, "cooldown_s": 300},
            "tolerance": 0.0,
        });
        let v = preview(&c, &base, p).await;
        assert_eq!(v["error"], Value::Null, "{metric}: {v}");
        let scales = v["scales"].as_array().unwrap();
        assert!(!scales.is_empty(), "{metric}: {v}");
        let first = &scales[0];
        let t = first["ts_ms"].as_i64().unwrap();
        assert!(
            (now - 100 * MIN..now - 90 * MIN).contains(&t),
            "{metric}: the first scale comes soon after the history turns hot: {first}"
        );
        assert_eq!(
            (first["from"].as_u64(), first["to"].as_u64()),
            (Some(1), Some(2))
        );
        let value = first["value"].as_f64().unwrap();
        assert!(
            (value - hot_value).abs() <= hot_value * 0.05,
            "{metric}: {value} is not about {hot_value}"
        );
        assert_eq!(v["peak"], 3, "{metric}: {v}");
        // Latency is not per replica, so it keeps scaling up to max while
        // hot; every metric comes back down after the hot stretch.
        let last = scales.last().unwrap();
        assert_eq!(last["to"], 1, "{metric}: back to min: {v}");
        assert!(
            last["ts_ms"].as_i64().unwrap() > now - 70 * MIN,
            "{metric}: {last}"
        );
        for s in scales
            .iter()
            .filter(|s| s["to"].as_u64() < s["from"].as_u64())
        {
            assert!(
                s["ts_ms"].as_i64().unwrap() > now - 70 * MIN,
                "{metric}: no scale-down while hot: {s}"
            );
        }
    }

    // A policy that cannot be stored cannot be previewed either.
    let r = c
        .post(format!("{base}/api/v1/services/svc/autoscale/preview"))
        .json(&json!({"min": 5, "max": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("max"), "{text}");
    server.shutdown().await;
}
