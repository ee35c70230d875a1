//! `/api/v1/services`: services for automation. Reading needs read scope;
//! creating, changing and deleting need write scope (an editor's token or
//! session). Bodies are JSON (a browser cannot send that cross-site
//! without a CORS preflight, which dozor never grants) read within the
//! API's limit; an unknown or mistyped field is a 400 naming it.

use super::{authn, error, AppState};
use crate::http::auth::guard::as_json;
use crate::ops::{self, Actor};
use crate::storage::{Scope, ServiceRecord};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::services::Service;
use serde_json::{json, Value};
use tracing::instrument;

/// The caller with at least `need`, as the operation's actor.
async fn actor(s: &AppState, headers: &HeaderMap, need: Scope) -> Result<Actor, Response> {
    let p = authn::require(s, headers, need).await?;
    Ok(Actor::api(p.user_id, &p.name, p.scope))
}

/// A service as the API shows it, with its host's apply state.
async fn shown(s: &AppState, r: &ServiceRecord) -> Value {
    let mut v = serde_json::to_value(&r.spec).expect("services serialise");
    let state = match s.0.store.agent_by_name(&r.spec.host).await {
        Ok(Some(a)) => match s.0.store.desired_status(a.id).await {
            Ok(Some(d)) => json!({
                "generation": d.generation,
                "applied_generation": d.applied_generation,
                "error": d.applied_error,
                "state": match (d.applied_generation, &d.applied_error) {
                    (_, Some(_)) => "failed",
                    (Some(g), None) if g == d.generation => "applied",
                    _ => "pending",
                },
            }),
            _ => json!({ "state": "pending" }),
        },
        _ => json!({ "state": "no agent" }),
    };
    v["apply"] = state;
    v["updated_by"] = json!(r.updated_by);
    v["updated_ms"] = json!(r.updated_ms);
    v
}

/// The body as a service, or a 400 naming the field that is wrong.
fn parse(body: &Bytes) -> Result<Service, Box<Response>> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("not a service: {}", e.inner()),
            field,
        ))
    })
}

#[instrument(skip_all)]
pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    match s.0.store.services(None).await {
        Ok(list) => {
            let mut out = Vec::with_capacity(list.len());
            for r in &list {
                out.push(shown(&s, r).await);
            }
            Json(json!({ "services": out })).into_response()
        }
        Err(e) => super::storage_error(e),
    }
}

#[instrument(skip_all, fields(service = %name))]
pub async fn get_one(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    match s.0.store.service(&name).await {
        Ok(Some(r)) => Json(shown(&s, &r).await).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no service called {name}"),
            None,
        ),
        Err(e) => super::storage_error(e),
    }
}

#[instrument(skip_all)]
pub async fn create(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let spec = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    saved(
        &s,
        ops::services::save(&s.0.ops, &who, spec, true).await,
        StatusCode::CREATED,
    )
    .await
}

#[instrument(skip_all, fields(service = %name))]
pub async fn replace(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut spec = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if spec.name.is_empty() {
        spec.name = name.clone();
    } else if spec.name != name {
        return error(
            StatusCode::BAD_REQUEST,
            "name: a service cannot be renamed; create the new one and delete this one",
            Some("name".into()),
        );
    }
    saved(
        &s,
        ops::services::save(&s.0.ops, &who, spec, false).await,
        StatusCode::OK,
    )
    .await
}

async fn saved(s: &AppState, r: ops::OpResult<Service>, status: StatusCode) -> Response {
    match r {
        Ok(spec) => match s.0.store.service(&spec.name).await {
            Ok(Some(rec)) => (status, Json(shown(s, &rec).await)).into_response(),
            Ok(None) => error(StatusCode::CONFLICT, "deleted meanwhile", None),
            Err(e) => super::storage_error(e),
        },
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all, fields(service = %name))]
pub async fn delete(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match ops::services::delete(&s.0.ops, &who, &name).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => as_json(e),
    }
}
