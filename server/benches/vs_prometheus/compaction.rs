//! Compaction and rollups of the loaded data before the queries, as the
//! maintenance loop would have done by now (closed windows become chunks,
//! a no-op where the store keeps rows; then the 5-minute and hourly
//! rollups), with the stall they cause measured. Left to the server's own
//! tick, the rollups of a fresh day ran during the first query shape and
//! made its times noise.

use dozor_common::{Sample, SeriesBatch};
use dozor_server::Server;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Compacts until nothing is left. Meanwhile a writer sends one small
/// recent batch every 10 ms, as agents do: its slowest answer is the
/// stall compaction causes.
pub async fn compact_all(label: &str, server: &Server) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (store, stop) = (server.store.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut worst, mut k) = (Duration::ZERO, 0i64);
            while !stop.load(Ordering::Relaxed) {
                let now = dozor_server::clock::system_ms();
                let b = SeriesBatch::new(
                    "stall_probe",
                    Default::default(),
                    vec![Sample::new(now + k, 1.0)],
                );
                let t = Instant::now();
                store.append(&[b], now).await.unwrap();
                worst = worst.max(t.elapsed());
                k += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            worst
        })
    };
    let t = Instant::now();
    let mut moved = 0;
    loop {
        let n = server
            .store
            .compact(dozor_server::clock::system_ms())
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        moved += n;
    }
    let took = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut buckets = 0;
    loop {
        let n = server
            .store
            .refresh_rollups(dozor_server::clock::system_ms())
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        buckets += n;
    }
    let rolled = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let worst = probe.await.unwrap();
    println!(
        "{label}: compaction caught up in {took:.2} s ({moved} series windows moved by this loop, the rest by the server's own maintenance tick), rollups in {rolled:.2} s ({buckets} buckets); slowest concurrent write {:.1} ms",
        worst.as_secs_f64() * 1e3
    );
}
