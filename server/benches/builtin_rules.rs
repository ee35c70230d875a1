//! What the first-hour defaults cost a running server (not a test): the
//! twelve built-in alert rules and the self-metrics pass, on SQLite.
//!
//!   cargo bench -p dozor-server --bench builtin_rules
//!
//! 20 demo hosts with 6 h 15 m of 15 s samples (the disk-fill rule reads
//! 6 h). Reported, best of 5:
//! - the built-in expressions as instant queries through the engine alone
//!   (the baseline), then one evaluation cycle of the built-in rules
//!   through the alerting engine (state machine and persistence);
//! - one self-metrics pass (snapshot, encode, parse, store through the
//!   remote_write path) against the baseline of encoding `/metrics` once
//!   (what a Prometheus scraping dozor costs it), with the series it adds.

use dozor_server::alerting::{builtin, engine::Alerting, AlertingConfig};
use dozor_server::clock::Clock;
use dozor_server::demo::{self, Demo};
use dozor_server::promql::Limits;
use dozor_server::storage::{self, OpenOptions};
use std::sync::Arc;
use std::time::Instant;

const HOSTS: usize = 20;

fn best<F: FnMut() -> f64>(mut f: F) -> f64 {
    (0..5).map(|_| f()).fold(f64::MAX, f64::min)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store = storage::open(&path.display().to_string(), &OpenOptions::default())
        .await
        .unwrap();
    let now = dozor_server::clock::system_ms() / 1000 * 1000;
    let names: Vec<String> = (0..HOSTS).map(|i| format!("host-{i:02}")).collect();
    let t = Instant::now();
    for h in &names {
        let d = Demo {
            host: h,
            last_seen_ms: now,
            hostile: false,
        };
        demo::seed(&store, &d, now, 6 * 3_600_000 + 900_000)
            .await
            .unwrap();
    }
    let series = store.series_count().await.unwrap();
    println!(
        "{HOSTS} hosts, {series} series, 6h15m of 15 s samples (seeded in {:.0} s), SQLite",
        t.elapsed().as_secs_f64()
    );

    let engine = dozor_server::storage::engine(&store, Limits::default());
    let list = builtin::effective(&[], 30_000);
    let exprs: Vec<String> = list.iter().map(|e| e.form.expr.clone()).collect();
    let mut base = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for e in &exprs {
            engine.instant(e, now).await.unwrap();
        }
        base = base.min(t.elapsed().as_secs_f64());
    }
    let groups = builtin::groups(&list, 30_000);
    let alerting = Alerting::load(
        AlertingConfig::defaults(),
        groups.clone(),
        engine.clone(),
        store.clone(),
        Clock::manual(now),
    )
    .await
    .unwrap();
    let mut cycle = f64::MAX;
    for k in 0..5 {
        let t = Instant::now();
        for g in &groups {
            alerting.eval_group(g, now + k * 1000).await;
        }
        cycle = cycle.min(t.elapsed().as_secs_f64());
    }
    println!(
        "built-in expressions alone (baseline)  {:8.1} ms",
        base * 1000.0
    );
    println!(
        "built-in rules, one cycle              {:8.1} ms   ({:.2}% of the 30 s interval)",
        cycle * 1000.0,
        cycle / 30.0 * 100.0
    );

    let telemetry = Arc::new(dozor_server::telemetry::Telemetry::default());
    for (i, h) in names.iter().enumerate() {
        telemetry.clock_offset(h, i as f64 / 100.0);
    }
    for route in [
        "/",
        "/hosts/{host}",
        "/api/v1/agents/heartbeat",
        "/prometheus/api/v1/query",
    ] {
        for status in [200, 304, 400] {
            telemetry.http_request("GET", route, status, std::time::Duration::from_millis(3));
        }
    }
    let ingest = dozor_server::ingest::Ingest {
        store: store.clone(),
        telemetry: telemetry.clone(),
        retention_ms: 30 * 86_400_000,
        limits: Default::default(),
        series_limiter: Default::default(),
        tasks: Arc::new(dozor_server::tasks::TaskHub::with_clock(Clock::system())),
        seen: Default::default(),
        ops: Default::default(),
    };
    let snap = dozor_server::self_metrics::snapshot(&store, &engine, now).await;
    let encode = best(|| {
        let t = Instant::now();
        std::hint::black_box(telemetry.encode(&snap));
        t.elapsed().as_secs_f64()
    });
    let mut pass = f64::MAX;
    let mut stored = 0;
    for k in 0..5 {
        let at = now + 15_000 * (k + 1);
        let t = Instant::now();
        let snap = dozor_server::self_metrics::snapshot(&store, &engine, at).await;
        let text = telemetry.encode(&snap);
        let batch = dozor_server::self_metrics::series(
            &text,
            &[("job", "dozor"), ("instance", "bench")],
            at,
        );
        stored = batch.len();
        ingest.remote_write(batch, at).await.unwrap();
        pass = pass.min(t.elapsed().as_secs_f64());
    }
    let lines = telemetry
        .encode(&snap)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    println!(
        "encode /metrics (baseline)             {:8.2} ms   ({lines} series served)",
        encode * 1000.0
    );
    println!(
        "self-metrics pass                      {:8.2} ms   ({stored} series stored; {:.0} samples/day at 15 s)",
        pass * 1000.0,
        stored as f64 * 5760.0
    );
}
