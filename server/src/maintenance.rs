//! Housekeeping on a timer: partitions ahead, rollups every minute,
//! retention (and old container events and finished tasks) hourly. Failures are logged and retried on the next tick.

use crate::clock::Clock;
use crate::storage::Store;
use crate::telemetry::Telemetry;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const TICK: Duration = Duration::from_secs(60);
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Series-cache entries not written for this long are dropped.
const CACHE_IDLE_MS: i64 = 3600 * 1000;
/// Finished tasks (log answers among them) are kept this long.
const TASKS_KEPT_MS: i64 = 3600 * 1000;

pub async fn run(
    store: Store,
    telemetry: Arc<Telemetry>,
    retention: Duration,
    clock: Clock,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retention: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = clock.now_ms();
        let timed = |op: &'static str, started: Instant, ok: bool| {
            telemetry.storage_op(op, started.elapsed(), ok)
        };

        let t = Instant::now();
        let r = store.prepare(now).await;
        timed("prepare", t, r.is_ok());
        if let Err(e) = r {
            tracing::warn!(error = %e, "partition maintenance failed");
        }

        let t = Instant::now();
        match store.refresh_rollups(now).await {
            Ok(n) => {
                timed("rollup", t, true);
                tracing::debug!(buckets = n, "rollups refreshed");
            }
            Err(e) => {
                timed("rollup", t, false);
                tracing::warn!(error = %e, "rollup refresh failed");
            }
        }

        // After the rollups: a step never waits behind a window's worth
        // of rollup work, and both are bounded per tick.
        let t = Instant::now();
        match store.compact(now).await {
            Ok(n) => {
                timed("compact", t, true);
                tracing::debug!(series_windows = n, "closed windows compacted");
            }
            Err(e) => {
                timed("compact", t, false);
                tracing::warn!(error = %e, "compaction failed");
            }
        }

        if last_retention.is_none_or(|l| l.elapsed() >= RETENTION_EVERY) {
            let t = Instant::now();
            match store
                .apply_retention(now, retention.as_millis() as i64)
                .await
            {
                Ok(out) => {
                    timed("retention", t, true);
                    last_retention = Some(Instant::now());
                    if out.deleted_samples > 0 || out.dropped_partitions > 0 {
                        tracing::info!(
                            samples = out.deleted_samples,
                            partitions = out.dropped_partitions,
                            "retention applied"
                        );
                    }
                }
                Err(e) => {
                    timed("retention", t, false);
                    tracing::warn!(error = %e, "retention failed");
                }
            }
            // Series that retention left empty, and cache entries idle for
            // an hour, go too: churn must not grow either for ever.
            match store.prune_series(now - retention.as_millis() as i64).await {
                Ok(n) if n > 0 => tracing::info!(series = n, "empty series pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning series failed"),
            }
            store.cache().forget_idle(now - CACHE_IDLE_MS);
            // Container events live as long as samples do.
            let events_before = now - retention.as_millis() as i64;
            if let Err(e) = store
                .prune_container_history(events_before, now - TASKS_KEPT_MS)
                .await
            {
                tracing::warn!(error = %e, "pruning container history failed");
            }
        }
    }
}
