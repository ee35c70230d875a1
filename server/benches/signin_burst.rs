//! Heartbeats during a burst of sign-ins (not a test). argon2id costs
//! 19 MiB and tens of milliseconds per attempt; run on the async workers
//! it would hold up every other request, ingest included. dozor runs it on
//! blocking threads, at most one per core at once.
//!
//!   cargo bench -p dozor-server --bench signin_burst
//!
//! Three phases of 10 s each in one process, one agent sending heartbeats
//! back to back (100 series, one sample each, zstd JSON as the collector
//! sends them), latency per heartbeat:
//! - quiet: nothing else (the baseline);
//! - sign-in burst: 16 clients posting wrong passwords for unknown users
//!   through the real form (each one a full argon2id verification);
//! - hashing on the async workers: the same number of verifications run
//!   directly on the runtime's workers, as sign-in did before issue 14.

use dozor_server::config::Config;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PHASE: Duration = Duration::from_secs(10);
const CLIENTS: usize = 16;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn body(t: i64) -> Vec<u8> {
    let series: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            serde_json::json!({
                "name": "bench_gauge",
                "labels": {"i": i.to_string()},
                "samples": [[t, i as f64]],
            })
        })
        .collect();
    let json = serde_json::to_vec(&serde_json::json!({ "series": series })).unwrap();
    zstd::bulk::compress(&json, 3).unwrap()
}

/// Heartbeats back to back until `stop`; each one's latency in ms.
async fn heartbeats(url: &str, key: &str, t0: &mut i64, stop: Instant) -> Vec<f64> {
    let http = reqwest::Client::new();
    let mut lat = Vec::new();
    while Instant::now() < stop {
        *t0 += 1000;
        let b = body(*t0);
        let started = Instant::now();
        let r = http
            .post(url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("content-encoding", "zstd")
            .body(b)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.bytes().await.unwrap();
        lat.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    lat
}

/// One client signing in with wrong passwords until `done`.
async fn sign_ins(base: String, n: usize, done: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = cookie.split_once('=').unwrap().1.to_string();
    let mut i = 0;
    while !done.load(Ordering::Relaxed) {
        i += 1;
        http.post(format!("{base}/login"))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", &format!("nobody-{n}-{i}")),
                ("password", "wrong password 123"),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// One task verifying on the async worker it runs on, until `done`.
async fn on_workers(done: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    while !done.load(Ordering::Relaxed) {
        dozor_server::auth::password::verify_dummy("wrong password 123");
        count.fetch_add(1, Ordering::Relaxed);
        tokio::task::yield_now().await;
    }
}

fn report(name: &str, mut lat: Vec<f64>, verifications: u64) {
    let n = lat.len();
    println!(
        "{name:<28} {n:>6} heartbeats  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  {:>5.1} verifications/s",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0),
        verifications as f64 / PHASE.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::for_data_dir(dir.path().join("data"));
    cfg.local_collector = false;
    cfg.rate_limits.agent_per_second = 100_000;
    cfg.rate_limits.agent_burst = 100_000;
    cfg.rate_limits.login_per_minute = 1_000_000;
    let server = dozor_server::app::Server::start(cfg).await.unwrap();
    let base = server.url();
    let token = std::fs::read_to_string(&server.enroll_token_path).unwrap();
    let client = dozor_collector::http::ServerClient::new(&base).unwrap();
    let key = client
        .enroll(token.trim(), "bench-host", Default::default())
        .await
        .unwrap()
        .agent_key;
    let url = format!("{base}/api/v1/agents/heartbeat");
    let mut t = dozor_server::clock::system_ms() - 3_600_000;
    // Warm up: series created, connections open.
    heartbeats(&url, &key, &mut t, Instant::now() + Duration::from_secs(2)).await;
    println!(
        "{} cores; {PHASE:?} per phase, {CLIENTS} sign-in clients",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let quiet = heartbeats(&url, &key, &mut t, Instant::now() + PHASE).await;
    report("quiet", quiet, 0);

    let (done, count) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(sign_ins(base.clone(), n, done.clone(), count.clone())))
        .collect();
    let burst = heartbeats(&url, &key, &mut t, Instant::now() + PHASE).await;
    done.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    report("sign-in burst", burst, count.load(Ordering::Relaxed));

    let (done, count) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let hogs: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(on_workers(done.clone(), count.clone())))
        .collect();
    let blocked = heartbeats(&url, &key, &mut t, Instant::now() + PHASE).await;
    done.store(true, Ordering::Relaxed);
    for h in hogs {
        h.await.unwrap();
    }
    report(
        "hashing on async workers",
        blocked,
        count.load(Ordering::Relaxed),
    );
    server.shutdown().await;
}
