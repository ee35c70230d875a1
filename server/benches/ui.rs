//! Dashboard render benchmark (not a test):
//!
//!   cargo bench -p dozor-server --bench ui
//!
//! 1. The host page over 24 h (demo data at 15 s, ~45 series): the first
//!    (cold) fetch, then 30 more (warm: the range-results cache reuses
//!    frozen points): p50 and p90, HTML bytes raw and gzipped. Baseline
//!    in the same run: the page's own PromQL queries run back to back
//!    through the engine, so the ratio is what rendering adds.
//! 2. The overview with 200 hosts (1 h each): p50 over 10 fetches.

#[path = "shared/session.rs"]
mod session;

use dozor_server::demo::{self, Demo};
use dozor_server::promql::{Limits, Range};
use dozor_server::{Config, Server};
use std::time::Instant;

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn fetch(url: &str, cookie: &str, gzip: bool) -> (f64, usize) {
    let mut req = reqwest::Client::new().get(url).header("cookie", cookie);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let started = Instant::now();
    let body = req.send().await.unwrap().bytes().await.unwrap();
    (started.elapsed().as_secs_f64() * 1e3, body.len())
}

async fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::for_data_dir(dir.path());
    cfg.local_collector = false;
    cfg.local_collector_interval = std::time::Duration::from_secs(15);
    let s = Server::start(cfg).await.unwrap();
    (dir, s)
}

#[tokio::main]
async fn main() {
    let now = dozor_server::clock::system_ms();
    let (_d, s) = server().await;
    let d = Demo {
        host: "web-1",
        last_seen_ms: now,
        hostile: false,
    };
    demo::seed(&s.store, &d, now, 86_400_000).await.unwrap();
    // As the maintenance loop leaves a day of data: closed windows in
    // chunks, the last hours in rows.
    while s.store.compact(now).await.unwrap() > 0 {}
    let cookie = session::signed_in(&s).await;
    let url = format!("{}/hosts/web-1?range=24h", s.url());
    // The first view computes everything; later ones reuse the frozen
    // part of each panel's result (see http/range_cache.rs).
    let (cold, _) = fetch(&url, &cookie, false).await;
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..30 {
        let (t, b) = fetch(&url, &cookie, false).await;
        times.push(t);
        bytes = b;
    }
    let (_, gz) = fetch(&url, &cookie, true).await;

    // Baseline: the same queries, straight through the engine.
    let engine = dozor_server::storage::engine(&s.store, Limits::default());
    let (dashboards, _) = dozor_ui::dashboards::load_all(None);
    let host = dashboards.iter().find(|d| d.slug == "host").unwrap();
    let step = 300_000;
    let end = now / step * step;
    let r = Range {
        start_ms: end - 86_400_000,
        end_ms: end,
        step_ms: step,
    };
    let vars = vec![("host".to_string(), "web-1".to_string())];
    let mut q_times = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        for p in host.rows.iter().flat_map(|r| &r.panels) {
            for q in &p.queries {
                let expr = dozor_ui::dashboards::substitute(&q.expr, &vars, step, 15_000);
                if p.kind == dozor_ui::dashboards::PanelType::Table {
                    engine.instant(&expr, now).await.unwrap();
                } else {
                    engine.range(&expr, r).await.unwrap();
                }
            }
        }
        q_times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p90, q50) = (pct(times.clone(), 0.5), pct(times, 0.9), pct(q_times, 0.5));
    println!("host page, 24 h: cold {cold:.1} ms; warm p50 {p50:.1} ms, p90 {p90:.1} ms; its queries alone p50 {q50:.1} ms; page/queries {:.2}x; {bytes} bytes HTML, {gz} bytes gzip", p50 / q50);
    s.shutdown().await;

    let (_d2, s) = server().await;
    let seed_started = Instant::now();
    for i in 0..200 {
        let name = format!("host-{i:03}");
        let d = Demo {
            host: &name,
            last_seen_ms: if i % 17 == 0 { now - 3_600_000 } else { now },
            hostile: false,
        };
        demo::seed(&s.store, &d, now, 3_600_000).await.unwrap();
    }
    let seeded = seed_started.elapsed().as_secs_f64();
    let cookie = session::signed_in(&s).await;
    let url = format!("{}/?range=1h", s.url());
    fetch(&url, &cookie, false).await;
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..10 {
        let (t, b) = fetch(&url, &cookie, false).await;
        times.push(t);
        bytes = b;
    }
    let (_, gz) = fetch(&url, &cookie, true).await;
    println!("overview, 200 hosts x 1 h: p50 {:.1} ms, p90 {:.1} ms; {bytes} bytes HTML, {gz} bytes gzip (seeded in {seeded:.1} s)", pct(times.clone(), 0.5), pct(times, 0.9));
    s.shutdown().await;
}
