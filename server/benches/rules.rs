//! Rule evaluation benchmark (not a test): 1,000 alerting rules over
//! 1,000 series, one evaluation cycle, on SQLite.
//!
//!   cargo bench -p dozor-server --bench rules
//!
//! Each rule is `avg_over_time(bench_value{i="N"}[5m]) > 50` over 1 h of
//! 15 s samples; half the series sit above 50, so half the rules fire.
//! Baseline in the same run: the same 1,000 queries through the PromQL
//! engine alone (no state machine, no persistence). Reported: the first
//! cycle (500 alerts become firing: states, history and outbox rows
//! written) and steady cycles (nothing changes), best of 5.

use dozor_common::{Sample, SeriesBatch};
use dozor_server::alerting::{engine::Alerting, rules, AlertingConfig};
use dozor_server::clock::Clock;
use dozor_server::promql::Limits;
use dozor_server::storage::{self, OpenOptions};
use std::time::Instant;

const RULES: usize = 1000;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store = storage::open(&path.display().to_string(), &OpenOptions::default())
        .await
        .unwrap();
    let now = dozor_server::clock::system_ms() / 1000 * 1000;
    let batches: Vec<SeriesBatch> = (0..RULES)
        .map(|i| {
            let v = if i % 2 == 0 { 80.0 } else { 20.0 };
            let labels = [("i".to_string(), i.to_string())].into_iter().collect();
            let samples = (0..240)
                .map(|k| Sample::new(now - 3_600_000 + k * 15_000, v))
                .collect();
            SeriesBatch::new("bench_value", labels, samples)
        })
        .collect();
    store.append(&batches, now).await.unwrap();

    let mut yaml = String::from("groups:\n  - name: bench\n    rules:\n");
    for i in 0..RULES {
        yaml.push_str(&format!(
            "      - alert: Bench{i}\n        expr: avg_over_time(bench_value{{i=\"{i}\"}}[5m]) > 50\n        annotations: {{summary: \"value {{{{ $value }}}}\"}}\n"
        ));
    }
    let groups = rules::parse("bench.yml", &yaml, 30_000).unwrap();
    let engine = dozor_server::storage::engine(&store, Limits::default());

    // Baseline: the same queries through the engine alone.
    let mut base = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..RULES {
            engine
                .instant(
                    &format!("avg_over_time(bench_value{{i=\"{i}\"}}[5m]) > 50"),
                    now,
                )
                .await
                .unwrap();
        }
        base = base.min(t.elapsed().as_secs_f64());
    }

    let mut cfg = AlertingConfig::defaults();
    cfg.webhooks = vec!["http://127.0.0.1:9/hook".into()];
    let alerting = Alerting::load(cfg, groups, engine, store.clone(), Clock::manual(now))
        .await
        .unwrap();
    let g = &alerting.groups[0];
    let t = Instant::now();
    alerting.eval_group(g, now).await;
    let first = t.elapsed().as_secs_f64();
    let firing: usize = alerting.snapshot().await.values().map(|m| m.len()).sum();
    assert_eq!(firing, RULES / 2);
    let mut steady = f64::MAX;
    for k in 1..=5 {
        let t = Instant::now();
        alerting.eval_group(g, now + k * 1000).await;
        steady = steady.min(t.elapsed().as_secs_f64());
    }
    let (_, pending, _) = store.outbox_counts().await.unwrap();
    println!("{RULES} rules over {RULES} series, SQLite");
    println!("queries alone (baseline)      {:8.1} ms", base * 1000.0);
    println!(
        "first cycle ({firing} fire)       {:8.1} ms   ({pending} notifications queued)",
        first * 1000.0
    );
    println!("steady cycle                  {:8.1} ms", steady * 1000.0);
    println!("steady / baseline             {:8.2}", steady / base);
}
