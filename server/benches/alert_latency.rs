//! Alert latency benchmark (not a test): from a sample crossing a rule's
//! threshold to Telegram's sendMessage, through the whole server (storage,
//! the 1 s evaluation loop, the outbox, the dispatcher, teloxide), against
//! a local Bot API stand-in.
//!
//!   cargo bench -p dozor-server --bench alert_latency
//!
//! Each round writes a value above the threshold, waits for the FIRING
//! message, writes one below and waits for RESOLVED. Baseline in the same
//! run: one sendMessage through the same Telegram client (the floor the
//! pipeline adds to). The rule is evaluated every 1 s and each crossing
//! lands at a different point of that cycle, so on average 0.5 s of the
//! latency is the wait for the next evaluation, by construction.

use axum::extract::{Path, State};
use axum::Json;
use dozor_common::{Sample, SeriesBatch};
use dozor_server::alerting::telegram::Telegram;
use dozor_server::config::Config;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 30;

type Sent = Arc<Mutex<Vec<(Instant, String)>>>;

async fn bot_api(
    State(sent): State<Sent>,
    Path((_t, method)): Path<(String, String)>,
    body: Json<Value>,
) -> Json<Value> {
    match method.as_str() {
        "SendMessage" => {
            let text = body["text"].as_str().unwrap_or_default().to_string();
            sent.lock().unwrap().push((Instant::now(), text.clone()));
            Json(json!({"ok": true, "result": {"message_id": 1, "date": 0,
                "chat": {"id": body["chat_id"], "type": "private", "first_name": "b"}, "text": text}}))
        }
        "GetUpdates" => Json(json!({"ok": true, "result": []})),
        _ => Json(json!({"ok": true, "result": true})),
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn wait_for(sent: &Sent, from: usize, word: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((t, _)) = sent.lock().unwrap()[from..]
            .iter()
            .find(|(_, m)| m.contains(word))
        {
            return *t;
        }
        assert!(Instant::now() < deadline, "no {word} message");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::main]
async fn main() {
    let sent: Sent = Default::default();
    let app = axum::Router::new()
        .route("/{token}/{method}", axum::routing::post(bot_api))
        .with_state(sent.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("r.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Hot\n        expr: bench_temp > 90\n        group_wait: 0s\n        group_interval: 1s\n",
    )
    .unwrap();
    let mut cfg = Config::for_data_dir(dir.path().join("data"));
    cfg.local_collector = false;
    cfg.alerting.rules_dir = Some(rules);
    cfg.alerting.telegram_token = Some("1:BENCH".into());
    cfg.alerting.telegram_api_url = Some(api.clone());
    cfg.alerting.telegram_chats = vec![1];
    let server = dozor_server::app::Server::start(cfg).await.unwrap();

    let mut fire = Vec::new();
    let mut resolve = Vec::new();
    for round in 0..ROUNDS {
        for (value, word, out) in [
            (95.0, "FIRING", &mut fire),
            (50.0, "RESOLVED", &mut resolve),
        ] {
            // Cross at a different point of the evaluation cycle each
            // time (golden-ratio phases), not just after an evaluation.
            let phase = (round as f64 * 0.618_034 + value / 100.0).fract();
            tokio::time::sleep(Duration::from_secs_f64(phase)).await;
            let from = sent.lock().unwrap().len();
            let now = dozor_server::clock::system_ms();
            let labels = [("host".to_string(), "b".to_string())]
                .into_iter()
                .collect();
            let t0 = Instant::now();
            server
                .store
                .append(
                    &[SeriesBatch::new(
                        "bench_temp",
                        labels,
                        vec![Sample::new(now, value)],
                    )],
                    now,
                )
                .await
                .unwrap();
            let t1 = wait_for(&sent, from, word).await;
            out.push((t1 - t0).as_secs_f64() * 1000.0);
        }
    }

    // Baseline: one sendMessage through the same client.
    let tg = Telegram::new("1:BENCH", Some(&api), reqwest::Client::new()).unwrap();
    let mut base = Vec::new();
    for i in 0..ROUNDS {
        let t = Instant::now();
        // A chat of its own each time: the per-chat limit is 1/s.
        tg.reply(1000 + i as i64, "baseline").await.unwrap();
        base.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let b50 = pct(&mut base, 0.5);
    println!("crossing -> sendMessage over {ROUNDS} rounds (1 s evaluation interval):");
    for (name, v) in [("firing", &mut fire), ("resolved", &mut resolve)] {
        let (p50, p95, max) = (pct(v, 0.5), pct(v, 0.95), pct(v, 1.0));
        println!("  {name:8} p50 {p50:7.1} ms  p95 {p95:7.1} ms  max {max:7.1} ms  (p50 / plain send {:.0}x)", p50 / b50);
    }
    println!("  plain sendMessage p50 {b50:.2} ms");
    server.shutdown().await;
}
