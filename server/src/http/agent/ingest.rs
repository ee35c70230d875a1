//! `POST /api/v1/agents/enroll` and `POST /api/v1/agents/heartbeat`.

use super::{error, retry_later, storage_error, wait_time, AppState};
use crate::auth;
use crate::ingest::{self, IngestError};
use crate::ops::OpError;
use crate::storage::AgentRecord;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::protocol::{EnrollRequest, EnrollResponse};
use std::net::SocketAddr;
use tracing::instrument;

/// An enrolment is a token, a name and the host's inventory: a few KiB.
const ENROLL_MAX_BYTES: usize = 64 * 1024;

#[instrument(skip_all, fields(peer = %peer.ip()))]
pub async fn enroll(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> Response {
    let s = &state.0;
    // Anyone may call this: the rate limit comes before reading anything,
    // and the body is read only up to what an enrolment can need.
    if let Some(wait) = wait_time(&s.enroll_limiter, &peer.ip()) {
        return retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many enrolment attempts",
            wait,
        );
    }
    let Ok(body) = to_bytes(body, ENROLL_MAX_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("enrolment request exceeds {ENROLL_MAX_BYTES} bytes"),
            None,
        );
    };
    let req: EnrollRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid enrolment request: {e}"),
                None,
            )
        }
    };
    let inventory = req
        .inventory
        .as_ref()
        .map(|i| serde_json::to_value(i).expect("serialises"));
    let enrolled = crate::ops::agents::enroll(
        &s.ops,
        &req.token,
        &req.name,
        inventory,
        req.capabilities.as_ref(),
    )
    .await;
    match enrolled {
        Ok((id, key)) => Json(EnrollResponse {
            agent_id: id,
            name: req.name,
            agent_key: key,
        })
        .into_response(),
        Err(OpError::Invalid(m)) => error(StatusCode::BAD_REQUEST, m, Some("name".into())),
        Err(OpError::Forbidden(_)) => error(
            StatusCode::UNAUTHORIZED,
            "enrolment token is invalid, revoked, expired or used up",
            None,
        ),
        Err(OpError::Conflict(m)) => error(StatusCode::CONFLICT, m, Some("name".into())),
        Err(e) => super::guard::as_json(e),
    }
}

/// Resolves the bearer key to a live agent, or the response to send.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<AgentRecord, Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(key) = auth::bearer(header) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "missing 'Authorization: Bearer <agent key>'",
            None,
        ));
    };
    match state
        .0
        .store
        .agent_by_key_hash(&auth::hash_secret(key))
        .await
    {
        Ok(Some(a)) if a.revoked_ms.is_none() => Ok(a),
        Ok(Some(a)) => Err(error(
            StatusCode::UNAUTHORIZED,
            format!(
                "the key of agent {:?} was revoked; enrol again with a valid token",
                a.name
            ),
            None,
        )),
        Ok(None) => Err(error(StatusCode::UNAUTHORIZED, "unknown agent key", None)),
        Err(e) => Err(storage_error(e)),
    }
}

#[instrument(skip_all, fields(agent))]
pub async fn heartbeat(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let s = &state.0;
    let agent = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(resp) => {
            s.telemetry.batch_error("bad_key");
            return resp;
        }
    };
    tracing::Span::current().record("agent", agent.name.as_str());
    if let Some(wait) = wait_time(&s.agent_limiter, &agent.id) {
        s.telemetry.batch_error("rate_limited");
        return retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many heartbeats from this agent",
            wait,
        );
    }
    let limits = s.ingest.limits.clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body exceeds {} bytes; send smaller batches",
                limits.max_body_bytes
            ),
            None,
        )
    };
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        s.telemetry.batch_error("too_large");
        return too_large();
    }
    let bytes = match to_bytes(body, limits.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            s.telemetry.batch_error("too_large");
            return too_large();
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let decoded =
        tokio::task::spawn_blocking(move || ingest::decode(&bytes, encoding.as_deref(), &limits))
            .await;
    let result = match decoded {
        Ok(Ok(req)) => s.ingest.heartbeat(&agent, req, s.ops.now_ms()).await,
        Ok(Err(e)) => Err(e),
        Err(e) => Err(IngestError::Internal(format!("decoder task failed: {e}"))),
    };
    if result.is_ok() {
        if let Err(e) = crate::ops::protection::agent_seen(&s.ops, agent.id, peer.ip()).await {
            tracing::warn!(error = %e, "the agent's address is not recorded");
        }
    }
    match result {
        Ok(resp) => Json(resp).into_response(),
        Err(e) => {
            s.telemetry.batch_error(e.reason());
            ingest_error(e)
        }
    }
}

pub(crate) fn ingest_error(e: IngestError) -> Response {
    match e {
        IngestError::BadRequest { message, field } => {
            error(StatusCode::BAD_REQUEST, message, field)
        }
        IngestError::Forbidden { message, field } => error(StatusCode::FORBIDDEN, message, field),
        IngestError::TooLarge(m) => error(StatusCode::PAYLOAD_TOO_LARGE, m, None),
        IngestError::TooManySeries(m) => error(StatusCode::UNPROCESSABLE_ENTITY, m, None),
        IngestError::Unavailable(m) => {
            tracing::warn!(error = %m, "storage unavailable during ingest");
            super::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is unavailable; retry later",
                std::time::Duration::from_secs(5),
            )
        }
        IngestError::Internal(m) => {
            tracing::error!(error = %m, "ingest failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while storing the batch",
                None,
            )
        }
    }
}
