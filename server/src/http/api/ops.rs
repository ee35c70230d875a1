//! `/metrics`, `/healthz`, `/readyz`.

use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn metrics(State(state): State<AppState>) -> Response {
    let s = &state.0;
    let snap = crate::self_metrics::snapshot(&s.store, &s.engine, s.ops.now_ms()).await;
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
