//! `/api/v1/protection` (the rules, thresholds and allowlist) and
//! `/api/v1/blocks` (blocks in force and past, manual blocks, unblocks).
//! Reading needs read scope; every change needs admin scope. Bodies are
//! JSON read within the API's limit; an unknown or mistyped field is a
//! 400 naming it.

use super::{authn, error, AppState};
use crate::http::auth::guard::as_json;
use crate::ops::{self, Actor};
use crate::storage::{BlockRecord, Scope};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::protection::Settings;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use tracing::instrument;

async fn actor(s: &AppState, headers: &HeaderMap, need: Scope) -> Result<Actor, Response> {
    let p = authn::require(s, headers, need).await?;
    Ok(Actor::api(p.user_id, &p.name, p.scope))
}

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Box<Response>> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("not {what}: {}", e.inner()),
            field,
        ))
    })
}

pub fn shown(b: &BlockRecord, now_ms: i64) -> Value {
    json!({
        "id": b.id,
        "address": b.address,
        "host": b.host,
        "service": b.service,
        "reason": b.reason,
        "hits": b.hits,
        "dry_run": b.dry_run,
        "created_by": b.created_by,
        "since_ms": b.since_ms,
        "until_ms": b.until_ms,
        "removed_by": b.removed_by,
        "removed_ms": b.removed_ms,
        "active": b.active(now_ms),
    })
}

#[instrument(skip_all)]
pub async fn get_settings(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    match ops::protection::settings(&s.0.ops).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all)]
pub async fn put_settings(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match actor(&s, &headers, Scope::Admin).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let settings: Settings = match parse(&body, "protection settings") {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match ops::protection::save_settings(&s.0.ops, &who, settings).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => as_json(e),
    }
}

/// `?all=1` adds the last week's ended and dry-run blocks.
#[instrument(skip_all)]
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    let now = s.0.ops.now_ms();
    let all = q.get("all").is_some_and(|v| v == "1" || v == "true");
    let since = if all { now - 7 * 86_400_000 } else { now };
    match s.0.store.blocks(since, 1000).await {
        Ok(list) => {
            let out: Vec<Value> = list
                .iter()
                .filter(|b| all || b.active(now))
                .map(|b| shown(b, now))
                .collect();
            Json(json!({ "blocks": out })).into_response()
        }
        Err(e) => super::storage_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBlockBody {
    address: String,
    /// None: until unblocked.
    #[serde(default)]
    ttl_s: Option<u32>,
}

#[instrument(skip_all)]
pub async fn create(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match actor(&s, &headers, Scope::Admin).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let b: NewBlockBody = match parse(&body, "a block") {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match ops::protection::block(&s.0.ops, &who, &b.address, b.ttl_s).await {
        Ok(r) => (StatusCode::CREATED, Json(shown(&r, s.0.ops.now_ms()))).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all, fields(block = id))]
pub async fn delete(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let who = match actor(&s, &headers, Scope::Admin).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match ops::protection::unblock(&s.0.ops, &who, id).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => as_json(e),
    }
}
