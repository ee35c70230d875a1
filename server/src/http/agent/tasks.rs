//! The agent's task channel: `GET /api/v1/agents/tasks?wait=S` long-polls
//! for tasks, `POST /api/v1/agents/task-result` reports one. Both take the
//! agent key, like heartbeats.

use super::agents::authenticate;
use super::{error, storage_error, AppState};
use axum::body::{to_bytes, Body};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::protocol::TaskResult;
use serde::Deserialize;
use std::time::Duration;
use tracing::instrument;

/// Log answers are up to a few MiB.
const TASK_RESULT_MAX_BYTES: usize = 8 << 20;

/// Longer than any proxy in front is likely to allow is pointless.
const MAX_WAIT: Duration = Duration::from_secs(55);

fn limited(state: &AppState, agent_id: i64) -> Option<Response> {
    super::wait_time(&state.0.ingest.tasks.limiter, &agent_id).map(|wait| {
        super::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many task requests from this agent",
            wait,
        )
    })
}

/// `GET /api/v1/agents/desired-state`: the agent's whole document.
#[instrument(skip_all, fields(agent))]
pub async fn desired_state(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let agent = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    tracing::Span::current().record("agent", agent.name.as_str());
    if let Some(r) = limited(&state, agent.id) {
        return r;
    }
    let s = &state.0;
    match crate::desired::document(&s.store, &agent, s.ops.now_ms()).await {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => storage_error(e),
    }
}

#[derive(Deserialize)]
pub struct PollQuery {
    #[serde(default)]
    wait: u64,
}

#[instrument(skip_all, fields(agent))]
pub async fn poll(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PollQuery>,
) -> Response {
    let agent = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    tracing::Span::current().record("agent", agent.name.as_str());
    let s = &state.0;
    if let Some(r) = limited(&state, agent.id) {
        return r;
    }
    let wait = Duration::from_secs(q.wait).min(MAX_WAIT);
    match crate::desired::poll(&s.ingest.tasks, &s.store, agent.id, wait).await {
        Ok(batch) => Json(batch).into_response(),
        Err(e) => storage_error(e),
    }
}

#[instrument(skip_all, fields(agent, task_id))]
pub async fn result(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let agent = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Some(r) = limited(&state, agent.id) {
        return r;
    }
    // Read only once the key and the rate are checked, and only so far.
    let Ok(body) = to_bytes(body, TASK_RESULT_MAX_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("task result exceeds {TASK_RESULT_MAX_BYTES} bytes"),
            None,
        );
    };
    let r: TaskResult = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid task result: {e}"),
                None,
            )
        }
    };
    let span = tracing::Span::current();
    span.record("agent", agent.name.as_str());
    span.record("task_id", r.task_id);
    let s = &state.0;
    match s.ingest.tasks.finish(&s.store, agent.id, &r).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        // Already answered or not this agent's: nothing to retry.
        Ok(false) => {
            tracing::warn!("result for an unknown or finished task ignored");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => storage_error(e),
    }
}
