//! `POST /prometheus/api/v1/write`: the remote_write receiver. Only a
//! bearer token whose SHA-256 matches the configured write token may use it.

use super::{agents::ingest_error, error, AppState};
use crate::{auth, remote_write};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

/// Compares without an early exit, so timing does not reveal a prefix.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[instrument(skip_all)]
pub async fn write(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let s = &state.0;
    let Some(expected) = s.remote_write_hash.as_deref() else {
        return error(StatusCode::NOT_FOUND, "remote_write is disabled", None);
    };
    let given = auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    if !given.is_some_and(|t| same(&auth::hash_secret(t), expected)) {
        s.telemetry.batch_error("bad_key");
        return error(
            StatusCode::UNAUTHORIZED,
            "remote_write needs 'Authorization: Bearer <write token>'",
            None,
        );
    }
    let limits = s.ingest.limits.clone();
    let bytes = match to_bytes(body, limits.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            s.telemetry.batch_error("too_large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body exceeds {} bytes", limits.max_body_bytes),
                None,
            );
        }
    };
    let decoded = tokio::task::spawn_blocking(move || {
        remote_write::decode(&bytes, &limits).and_then(remote_write::to_batches)
    })
    .await;
    let result = match decoded {
        Ok(Ok(batches)) => s.ingest.remote_write(batches, super::now_ms()).await,
        Ok(Err(e)) => Err(e),
        Err(e) => Err(crate::ingest::IngestError::Internal(format!(
            "decoder task failed: {e}"
        ))),
    };
    match result {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            s.telemetry.batch_error(e.reason());
            ingest_error(e)
        }
    }
}
