//! Targets defined on the server (admins): add one for a host, remove one
//! (`ops::targets`, which publishes the host's desired state). The agent
//! converges on the change after its next heartbeat.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::targets_page::show;
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use std::collections::HashMap;

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn create(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let t = ops::targets::NewTarget {
        host: g("host"),
        job: g("job"),
        url: g("url"),
        interval: g("interval"),
        format: g("format"),
    };
    let host = t.host.clone();
    match ops::targets::create(&s.0.ops, &actor(&u, None), t).await {
        Ok(()) => {
            let notice = format!("Added; {host} starts scraping it once it has the change.");
            show(s, headers, u, Some(host), Some(notice)).await
        }
        Err(OpError::NotFound(m)) => {
            show(s, headers, u, None, Some(format!("Not added: {m}."))).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => {
                show(s, headers, u, Some(host), Some(format!("Not added: {n}"))).await
            }
        },
    }
}

#[tracing::instrument(skip_all, fields(user = %u.name, id))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let (host, notice) = match ops::targets::delete(&s.0.ops, &actor(&u, None), id).await {
        Ok(host) => (
            Some(host),
            "Removed; its series go stale once the host has the change.".to_string(),
        ),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => (None, n),
        },
    };
    show(s, headers, u, host, Some(notice)).await
}
