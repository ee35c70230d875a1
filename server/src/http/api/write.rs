//! `POST /prometheus/api/v1/write`: the remote_write receiver. It takes a
//! write-scoped API token, or the bootstrap write token from
//! DATA_DIR/remote-write-token (write only: it cannot read), as a bearer
//! token or as the basic-auth password.

use super::{agents::ingest_error, error, AppState};
use crate::storage::Scope;
use crate::{auth, remote_write};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
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
    let bootstrap = super::authn::presented_secret(&headers).is_some_and(|t| {
        s.remote_write_hash
            .as_deref()
            .is_some_and(|expected| same(&auth::hash_secret(&t), expected))
    });
    if !bootstrap {
        if let Err(refused) = super::authn::require(&state, &headers, Scope::Write).await {
            s.telemetry.batch_error("bad_key");
            return refused;
        }
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
        remote_write::decode(&bytes, &limits).and_then(|req| {
            let metadata = remote_write::metadata(&req);
            Ok((remote_write::to_batches(req)?, metadata))
        })
    })
    .await;
    let result = match decoded {
        Ok(Ok((batches, metadata))) => {
            let now = s.ops.now_ms();
            match s.ingest.remote_write(batches, now).await {
                Ok(done) => s.ingest.save_metadata(metadata, now).await.map(|()| done),
                Err(e) => Err(e),
            }
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(crate::ingest::IngestError::Internal(format!(
            "decoder task failed: {e}"
        ))),
    };
    match result {
        // Prometheus's receiver answers 400 for out-of-bounds and
        // conflicting samples, which senders do not retry: the rest is
        // stored, and the answer says what was not.
        Ok((stored, rejected)) if rejected.samples > 0 => error(
            StatusCode::BAD_REQUEST,
            format!(
                "{} sample(s) not stored ({} stored{}): {}",
                rejected.samples,
                stored,
                if rejected.series > 0 {
                    format!(", {} series refused", rejected.series)
                } else {
                    String::new()
                },
                rejected.examples.join("; ")
            ),
            None,
        ),
        // A refused series is counted (dozor_ingest_rejected_series_total)
        // and logged; the sender has nothing to change about the rest.
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            s.telemetry.batch_error(e.reason());
            ingest_error(e)
        }
    }
}
