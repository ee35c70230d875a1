//! `/api/v1/services/{name}/autoscale` (the policy; `/preview` replays
//! one over the last 6 hours), `/scale` (set the
//! replicas by hand) and `/scale-events` (decisions and actions): reading
//! needs read scope; changes need write scope and an editor. Bodies are
//! JSON read within the API's limit; an unknown or mistyped field is a
//! 400 naming it.

use super::{authn, error, AppState};
use crate::http::auth::guard::as_json;
use crate::ops::{self, Actor};
use crate::storage::{ScaleEvent, Scope};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::autoscale::Policy;
use serde_json::{json, Value};
use std::collections::HashMap;
use tracing::instrument;

async fn actor(s: &AppState, headers: &HeaderMap, need: Scope) -> Result<Actor, Response> {
    let p = authn::require(s, headers, need).await?;
    Ok(Actor::api(p.user_id, &p.name, p.scope))
}

pub fn event_json(e: &ScaleEvent) -> Value {
    json!({
        "id": e.id, "service": e.service, "ts_ms": e.ts_ms, "kind": e.kind,
        "direction": e.direction, "from": e.from, "to": e.to, "value": e.value,
        "reason": e.reason, "dry_run": e.dry_run, "actor": e.actor,
        "task_id": e.task_id, "result": e.result, "finished_ms": e.finished_ms,
    })
}

/// A policy from a JSON body; a 400 naming the field otherwise.
fn policy_of(body: &[u8]) -> Result<Policy, Box<Response>> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("not a policy: {}", e.inner()),
            (path != ".").then_some(path),
        ))
    })
}

#[instrument(skip_all, fields(service = %name))]
pub async fn get_policy(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    let last =
        s.0.autoscaler
            .last(&name)
            .map(|(t, v, what)| json!({"ts_ms": t, "value": v, "decision": what}));
    match ops::autoscale::policy(&s.0.ops, &name).await {
        Ok(p) => Json(json!({"policy": p, "last": last})).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all, fields(service = %name))]
pub async fn put_policy(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut p = match policy_of(&body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    p.service = name;
    match ops::autoscale::save_policy(&s.0.ops, &who, p).await {
        Ok(p) => Json(json!({ "policy": p })).into_response(),
        Err(e) => as_json(e),
    }
}

/// A policy replayed over the last 6 hours (nothing is stored): the
/// body is a policy as for PUT.
#[instrument(skip_all, fields(service = %name))]
pub async fn preview(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    let mut p = match policy_of(&body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    p.service = name;
    match ops::autoscale::preview(&s.0.ops, &s.0.engine, &p).await {
        Ok(v) => Json(json!({
            "error": v.error,
            "evaluations": v.evaluations,
            "peak": v.peak,
            "start_ms": v.window.start, "end_ms": v.window.end, "step_ms": v.window.step,
            "scales": v.scales.iter().map(|(t, from, to, value)| json!({
                "ts_ms": t, "from": from, "to": to, "value": value,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all, fields(service = %name))]
pub async fn delete_policy(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match ops::autoscale::delete_policy(&s.0.ops, &who, &name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => as_json(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleTo {
    replicas: u32,
}

#[instrument(skip_all, fields(service = %name))]
pub async fn scale(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let to: ScaleTo = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a scale request ({{\"replicas\": N}}): {e}"),
                None,
            )
        }
    };
    match ops::autoscale::scale_to(&s.0.ops, &who, &name, to.replicas).await {
        Ok(e) => (StatusCode::ACCEPTED, Json(event_json(&e))).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all, fields(service = %name))]
pub async fn events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    let since = q
        .get("since_ms")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    match ops::autoscale::events(&s.0.ops, Some(&name), since).await {
        Ok(list) => Json(json!({ "events": list.iter().map(event_json).collect::<Vec<_>>() }))
            .into_response(),
        Err(e) => as_json(e),
    }
}
