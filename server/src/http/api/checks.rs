//! `/api/v1/checks`: reading needs read scope; saving and deleting need
//! write scope, and a private target an admin's. Bodies are JSON read
//! within the API's limit; an unknown or mistyped field is a 400 naming it.

use super::{authn, error, AppState};
use crate::http::auth::guard::as_json;
use crate::ops::{self, Actor};
use crate::storage::Scope;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::checks::Check;
use serde_json::json;
use tracing::instrument;

async fn actor(s: &AppState, headers: &HeaderMap, need: Scope) -> Result<Actor, Response> {
    let p = authn::require(s, headers, need).await?;
    Ok(Actor::api(p.user_id, &p.name, p.scope))
}

#[instrument(skip_all)]
pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    match s.0.store.checks().await {
        Ok(list) => Json(json!({ "checks": list })).into_response(),
        Err(e) => super::storage_error(e),
    }
}

#[instrument(skip_all)]
pub async fn create(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let c: Check = match serde_path_to_error::deserialize(de) {
        Ok(c) => c,
        Err(e) => {
            let path = e.path().to_string();
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a check: {}", e.inner()),
                (path != ".").then_some(path),
            );
        }
    };
    match ops::checks::save(&s.0.ops, &who, c).await {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all, fields(check = %name))]
pub async fn delete(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match ops::checks::delete(&s.0.ops, &who, &name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => as_json(e),
    }
}
