//! The sustained write (`DOZOR_BENCH_SUSTAINED_SECS`): Prometheus's
//! request shape (4 shards, each 2,000 series × 1 sample per request,
//! each in order) sent to dozor as fast as it answers for the whole time,
//! with the rate and the process's resident size printed every minute.
//! Bodies are made as the shards go, as a real Prometheus makes them (a
//! pre-made ten minutes would not fit in memory); that costs the bench's
//! own CPU on the same two cores, so the figure is, if anything, low.

use super::status_kb;
use super::writes::{bodies, post, SHARDS};
use dozor_server::Server;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn sustained(label: &str, server: &Server, secs: u64) {
    let token = std::fs::read_to_string(&server.remote_write_token_path)
        .unwrap()
        .trim()
        .to_string();
    let url = format!("{}/prometheus/api/v1/write", server.url());
    let sent = Arc::new(AtomicU64::new(0));
    // The slowest request of the minute, ms: a maintenance stall shows here.
    let slowest = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for shard in 0..SHARDS {
        let (http, url, token, sent, slowest) = (
            http.clone(),
            url.clone(),
            token.clone(),
            sent.clone(),
            slowest.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ts = 0;
            while Instant::now() < until {
                // Stamped now, as a Prometheus stamps its scrapes: old
                // stamps would make every request a late write into one
                // bucket that rollups rebuild again and again.
                ts = dozor_server::clock::system_ms().max(ts + 1);
                let body = bodies(2000, 1, 1, ts, &format!("sus{shard}")).remove(0);
                let started = Instant::now();
                post(&http, &url, Some(&token), body).await;
                slowest.fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                sent.fetch_add(2000, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    let mut last = (0u64, started);
    let mut rates = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(60).min(until - Instant::now())).await;
        let (n, now) = (sent.load(Ordering::Relaxed), Instant::now());
        let rate = (n - last.0) as f64 / (now - last.1).as_secs_f64();
        rates.push(rate);
        println!(
            "{label}: sustained minute {}: {rate:.0} samples/s, slowest request {} ms, RSS {} MiB",
            rates.len(),
            slowest.swap(0, Ordering::Relaxed),
            status_kb("self", "VmRSS:") / 1024
        );
        last = (n, now);
    }
    for t in tasks {
        t.await.unwrap();
    }
    // What the store acknowledged but has not filed yet (SQLite's ingest
    // log) counts against the rate.
    let filing = Instant::now();
    server.store.flush().await.unwrap();
    println!(
        "{label}: the ingest log was filed {} ms after the last answer",
        filing.elapsed().as_millis()
    );
    let total = sent.load(Ordering::Relaxed);
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{label}: sustained {secs} s: {total} samples, {:.0}/s overall, slowest minute {min:.0}/s, peak RSS {} MiB",
        total as f64 / started.elapsed().as_secs_f64(),
        status_kb("self", "VmHWM:") / 1024
    );
}
