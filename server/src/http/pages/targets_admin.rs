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
use dozor_ui::components::form::FormError;
use dozor_ui::pages::targets::Draft;
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
    let mut draft = Draft {
        job: t.job.clone(),
        url: t.url.clone(),
        interval: t.interval.clone(),
        format: t.format.clone(),
        error: None,
    };
    match ops::targets::create(&s.0.ops, &actor(&u, None), t).await {
        Ok(()) => {
            let notice = format!("Added; {host} starts scraping it once it has the change.");
            show(s, headers, u, Some(host), Some(notice), Draft::default()).await
        }
        Err(OpError::NotFound(m)) => {
            draft.error = Some(FormError::field("host", format!("Not added: {m}.")));
            show(s, headers, u, None, None, draft).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => {
                // The collector's checks name the field first ("url: …").
                let field = ["job", "url", "interval", "format"]
                    .into_iter()
                    .find(|f| n.strip_prefix(f).is_some_and(|r| r.starts_with(':')));
                let message = format!("Not added: {n}");
                draft.error = Some(FormError::new(field, message));
                show(s, headers, u, Some(host), None, draft).await
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
    show(s, headers, u, host, Some(notice), Draft::default()).await
}
