//! `/api/v1/certificates` and `/api/v1/acme`: reading needs read scope;
//! issuing, renewing, revoking and uploading need write scope (and an
//! editor's role), the ACME account an admin's. Bodies are JSON read within
//! the API's limit; an unknown or mistyped field is a 400 naming it.

use super::{authn, error, AppState};
use crate::http::auth::guard::as_json;
use crate::ops::{self, Actor};
use crate::storage::{CertRecord, Scope};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dozor_common::certs::Acme;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tracing::instrument;

async fn actor(s: &AppState, headers: &HeaderMap, need: Scope) -> Result<Actor, Response> {
    let p = authn::require(s, headers, need).await?;
    Ok(Actor::api(p.user_id, &p.name, p.scope))
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Box<Response>> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("not {what}: {}", e.inner()),
            (path != ".").then_some(path),
        ))
    })
}

/// A certificate as the API shows it: what is wanted and the host's last
/// report.
pub fn view(r: &CertRecord) -> Value {
    json!({
        "service": r.service,
        "host": r.host,
        "source": r.source.as_str(),
        "revoked": r.revoke,
        "report": r.report,
        "reported_ms": r.reported_ms,
        "requested_by": r.requested_by,
        "requested_ms": r.requested_ms,
    })
}

#[instrument(skip_all)]
pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    match ops::certificates::list(&s.0.ops).await {
        Ok(list) => Json(json!({ "certificates": list.iter().map(view).collect::<Vec<_>>() }))
            .into_response(),
        Err(e) => as_json(e),
    }
}

/// `POST /api/v1/certificates/{service}/{action}`: issue, renew, revoke.
#[instrument(skip_all, fields(service = %service, action = %action))]
pub async fn act(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((service, action)): Path<(String, String)>,
    // Nothing is read from it, but it is read within the limit like
    // every body (an oversized one is a 413 before any work).
    _body: Bytes,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = &s.0.ops;
    let r = match action.as_str() {
        "issue" => ops::certificates::issue(o, &who, &service).await,
        "renew" => ops::certificates::renew(o, &who, &service).await,
        "revoke" => ops::certificates::revoke(o, &who, &service).await,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no action {action:?}: issue, renew or revoke"),
                None,
            )
        }
    };
    match r {
        Ok(c) => Json(view(&c)).into_response(),
        Err(e) => as_json(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    certificate: String,
    key: String,
}

/// `PUT /api/v1/certificates/{service}`: an uploaded chain and key.
#[instrument(skip_all, fields(service = %service))]
pub async fn upload(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(service): Path<String>,
    body: Bytes,
) -> Response {
    let who = match actor(&s, &headers, Scope::Write).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let u: Upload = match parse(&body, "a certificate upload") {
        Ok(u) => u,
        Err(r) => return *r,
    };
    match ops::certificates::upload(&s.0.ops, &who, &service, &u.certificate, &u.key).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all)]
pub async fn get_acme(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = actor(&s, &headers, Scope::Read).await {
        return r;
    }
    match ops::certificates::acme(&s.0.ops).await {
        Ok(a) => Json(json!({ "acme": a })).into_response(),
        Err(e) => as_json(e),
    }
}

#[instrument(skip_all)]
pub async fn put_acme(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match actor(&s, &headers, Scope::Admin).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let a: Acme = match parse(&body, "ACME account settings") {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match ops::certificates::set_acme(&s.0.ops, &who, a).await {
        Ok(a) => Json(json!({ "acme": a })).into_response(),
        Err(e) => as_json(e),
    }
}
