//! The server's own metrics as series. What `/metrics` serves is stored
//! every interval with `job="dozor"` and `instance` set to the listen
//! address, through the same ingest path as remote_write, as Prometheus
//! records its own metrics by scraping itself. The built-in rules about
//! hosts going silent, clock skew and dozor's own health read them.

use crate::clock::Clock;
use crate::ingest::Ingest;
use crate::storage::Store;
use crate::telemetry::{process_stats, Snapshot};
use dozor_common::expo::parse::{Format, Parser};
use dozor_common::{Sample, SeriesBatch};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Values `/metrics` reads at scrape time from storage, the query engine
/// and the process. A part that cannot be read is left out, never fatal.
pub async fn snapshot(store: &Store, engine: &crate::promql::Engine, now_ms: i64) -> Snapshot {
    let mut snap = Snapshot {
        active_series: store.cache().active_since(now_ms - 600_000) as u64,
        series_total: store.series_count().await.ok().map(|n| n as u64),
        query_samples_loaded: engine.stats().samples_loaded.load(Relaxed),
        query_rollup_buckets_loaded: engine.stats().rollup_buckets_loaded.load(Relaxed),
        notifications: store.outbox_counts().await.ok(),
        jobs: store.background_jobs().await.unwrap_or_default(),
        ..Snapshot::default()
    };
    if let Ok(agents) = store.list_agents().await {
        let live: Vec<_> = agents.iter().filter(|a| a.revoked_ms.is_none()).collect();
        snap.agents_total = live.len() as u64;
        snap.agents_online = live
            .iter()
            .filter(|a| {
                a.last_seen_ms
                    .is_some_and(|t| now_ms - t <= crate::tasks::ONLINE_WINDOW_MS)
            })
            .count() as u64;
        snap.agents = live
            .iter()
            .map(|a| (a.name.clone(), a.last_seen_ms))
            .collect();
        for a in &live {
            if let Ok(Some(d)) = store.desired_status(a.id).await {
                snap.desired_failed
                    .push((a.name.clone(), d.applied_error.is_some()));
            }
        }
    }
    if let Ok((rss, cpu, start)) = tokio::task::spawn_blocking(process_stats).await {
        snap.resident_memory_bytes = rss;
        snap.cpu_seconds = cpu;
        snap.start_time_seconds = start;
    }
    snap
}

/// The exposition text as series stamped `now_ms`, with `labels` added
/// (they win over the text's own, as Prometheus's target labels do).
/// Histogram buckets are left out: one latency histogram has 16 series
/// per route and status, which would make dozor's own metrics most of a
/// small installation's storage; `_sum` and `_count` (the mean) stay, and
/// `/metrics` still serves the buckets to a Prometheus that wants them.
pub fn series(text: &str, labels: &[(&str, &str)], now_ms: i64) -> Vec<SeriesBatch> {
    let mut p = Parser::new(text, Format::Text);
    let mut out = Vec::new();
    while let Some(s) = p.next_sample() {
        // dozor's own encoder wrote the text; a bad line is a bug, and
        // skipping it keeps the rest.
        let Ok(s) = s else { continue };
        if s.name.ends_with("_bucket") {
            continue;
        }
        let mut l: dozor_common::Labels = s
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in labels {
            l.insert(k.to_string(), v.to_string());
        }
        out.push(SeriesBatch::new(
            s.name,
            l,
            vec![Sample::new(now_ms, s.value)],
        ));
    }
    out
}

/// Stores the server's metrics every `interval` until shutdown. Storage
/// trouble is counted by the store itself and retried next time.
pub async fn run(
    ingest: Ingest,
    engine: crate::promql::Engine,
    clock: Clock,
    interval: Duration,
    instance: String,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stamps = dozor_common::stamps::Stamps::new(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = stamps.stamp(clock.now_ms());
        let snap = snapshot(&ingest.store, &engine, now).await;
        let text = ingest.telemetry.encode(&snap);
        let batch = series(&text, &[("job", "dozor"), ("instance", &instance)], now);
        if let Err(e) = ingest.remote_write(batch, now).await {
            tracing::warn!(error = %e, "cannot store the server's own metrics; next time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_becomes_series_with_target_labels() {
        let text = "# TYPE a counter\na_total{op=\"x\",job=\"inner\"} 3\n# TYPE b gauge\nb 1.5\n\
            # TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n";
        let got = series(
            text,
            &[("job", "dozor"), ("instance", "127.0.0.1:8080")],
            1_000,
        );
        let names: Vec<&str> = got.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["a_total", "b", "h_sum", "h_count"], "no buckets");
        assert_eq!(got[0].name, "a_total");
        assert_eq!(got[0].labels["job"], "dozor", "the target's labels win");
        assert_eq!(got[0].labels["op"], "x");
        assert_eq!(got[1].labels["instance"], "127.0.0.1:8080");
        assert_eq!(got[1].samples, vec![Sample::new(1_000, 1.5)]);
    }
}
