//! The Targets page: every agent's scrape targets as last reported in its
//! heartbeats; `?host=NAME` narrows it to one host.

use super::authn::CurrentUser;
use super::ui::{render, Page};
use super::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use dozor_common::protocol::TargetStatus;
use dozor_ui::pages::targets::{self as page, TargetRow};
use std::collections::HashMap;

#[tracing::instrument(skip_all)]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let host = q.get("host").filter(|h| !h.is_empty()).cloned();
    show(s, headers, u, host, None, page::Draft::default()).await
}

pub(crate) async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    host: Option<String>,
    notice: Option<String>,
    draft: page::Draft,
) -> Response {
    let reports = match s.0.store.scrape_statuses().await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    let mut rows = Vec::new();
    for (agent, json, _) in reports {
        if host.as_ref().is_some_and(|h| *h != agent) {
            continue;
        }
        let targets: Vec<TargetStatus> = serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::warn!(%agent, error = %e, "unreadable scrape report skipped");
            Vec::new()
        });
        rows.extend(targets.into_iter().map(|t| TargetRow {
            host: agent.clone(),
            job: t.job,
            url: t.url,
            up: t.up,
            last_scrape_ms: t.last_scrape_ms,
            duration_ms: t.duration_ms,
            samples: t.samples,
            error: t.error,
        }));
    }
    // Problems first, then by host and job.
    rows.sort_by(|a, b| (a.up, &a.host, &a.job).cmp(&(b.up, &b.host, &b.job)));
    let defined = match s.0.store.server_targets(host.as_deref()).await {
        Ok(d) => d,
        Err(e) => return super::storage_error(e),
    };
    let hosts = match s.0.store.list_agents().await {
        Ok(a) => a
            .into_iter()
            .filter(|a| a.revoked_ms.is_none())
            .map(|a| a.name)
            .collect(),
        Err(e) => return super::storage_error(e),
    };
    let data = page::Data {
        rows,
        host,
        now_ms: s.0.auth.now_ms(),
        defined: defined
            .into_iter()
            .map(|t| page::Defined {
                id: t.id,
                host: t.host,
                job: t.job,
                url: t.url,
                interval: t.interval.unwrap_or_default(),
                format: t.format,
                created_by: t.created_by,
            })
            .collect(),
        hosts,
        is_admin: u.role == crate::storage::Role::Admin,
        notice,
        draft,
    };
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::body(ctx, data));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Targets".into(), "targets", body),
    )
    .await
}
