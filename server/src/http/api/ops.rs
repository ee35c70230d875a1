//! `/metrics`, `/healthz`, `/readyz`.

use super::{AppState, ONLINE_WINDOW_MS};
use crate::telemetry::{process_stats, Snapshot};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering::Relaxed;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let s = &state.0;
    let now = s.ops.now_ms();
    let mut snap = Snapshot {
        active_series: s.store.cache().active_since(now - 600_000) as u64,
        series_total: s.store.series_count().await.ok().map(|n| n as u64),
        query_samples_loaded: s.engine.stats().samples_loaded.load(Relaxed),
        query_rollup_buckets_loaded: s.engine.stats().rollup_buckets_loaded.load(Relaxed),
        notifications: s.store.outbox_counts().await.ok(),
        ..Snapshot::default()
    };
    if let Ok(agents) = s.store.list_agents().await {
        let live = agents.iter().filter(|a| a.revoked_ms.is_none());
        snap.agents_total = live.clone().count() as u64;
        snap.agents_online = live
            .filter(|a| a.last_seen_ms.is_some_and(|t| now - t <= ONLINE_WINDOW_MS))
            .count() as u64;
    }
    if let Ok((rss, cpu, start)) = tokio::task::spawn_blocking(process_stats).await {
        snap.resident_memory_bytes = rss;
        snap.cpu_seconds = cpu;
        snap.start_time_seconds = start;
    }
    (
        [(header::CONTENT_TYPE, dozor_common::expo::CONTENT_TYPE)],
        s.telemetry.encode(&snap),
    )
        .into_response()
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when storage answers. Migrations run before the listener opens,
/// so a server that answers at all has applied them.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.0.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            format!("ready: {}\n", state.0.store.describe()),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unreachable\n").into_response()
        }
    }
}
