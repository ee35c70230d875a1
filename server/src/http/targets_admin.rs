//! Targets defined on the server (admins): add one for a host, remove one.
//! Checked like a collector's own (job, http(s) URL, interval, format),
//! CSRF-checked and audited. The agent picks the change up with its next
//! heartbeat.

use super::authn::{audit, CurrentUser};
use super::guard::form_guard;
use super::targets_page::show;
use super::AppState;
use crate::storage::{Role, ServerTarget};
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
    let (host, job, url, interval, format) =
        (g("host"), g("job"), g("url"), g("interval"), g("format"));
    let format = if format.is_empty() {
        "prometheus".to_string()
    } else {
        format
    };
    // The collector's own checks, so what is saved will run.
    let spec = dozor_collector::scrape::target::TargetSpec {
        job: job.clone(),
        url: url.clone(),
        interval: (!interval.is_empty()).then(|| interval.clone()),
        format: Some(format.clone()),
        ..Default::default()
    };
    if let Err(e) = spec.compile(std::time::Duration::from_secs(10)) {
        return show(s, headers, u, Some(host), Some(format!("Not added: {e}"))).await;
    }
    let known = match s.0.store.agent_by_name(&host).await {
        Ok(a) => a.is_some_and(|a| a.revoked_ms.is_none()),
        Err(e) => return super::storage_error(e),
    };
    if !known {
        let msg = format!("Not added: no active agent called {host:?}.");
        return show(s, headers, u, None, Some(msg)).await;
    }
    let t = ServerTarget {
        id: 0,
        host: host.clone(),
        job,
        url: url.clone(),
        interval: (!interval.is_empty()).then_some(interval),
        format,
        created_by: u.name.clone(),
        created_ms: s.0.auth.now_ms(),
    };
    let notice = match s.0.store.create_server_target(&t).await {
        Ok(Some(_)) => {
            audit(
                &s,
                &u.name,
                "target.create",
                Some(&format!("{host} {url}")),
                None,
            )
            .await;
            format!("Added; {host} starts scraping it after its next heartbeat.")
        }
        Ok(None) => "That host already has this job and URL.".to_string(),
        Err(e) => return super::storage_error(e),
    };
    show(s, headers, u, Some(host), Some(notice)).await
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
    let (host, notice) = match s.0.store.delete_server_target(id).await {
        Ok(Some(t)) => {
            audit(
                &s,
                &u.name,
                "target.delete",
                Some(&format!("{} {}", t.host, t.url)),
                None,
            )
            .await;
            (
                Some(t.host),
                "Removed; its series go stale after the host's next heartbeat.".to_string(),
            )
        }
        Ok(None) => (None, "No such target.".to_string()),
        Err(e) => return super::storage_error(e),
    };
    show(s, headers, u, host, Some(notice)).await
}
