//! The Checks screen: parse, call `ops::checks`, render. Each check's
//! state now and uptime come from its probe metrics.

use super::authn::CurrentUser;
use super::guard::{actor, as_page, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dozor_common::checks::{Check, Kind};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::checks::{self as page, Row, UPTIME_WINDOWS};
use std::collections::HashMap;
use tracing::instrument;

/// One number per check from `query` (a PromQL with `{check}` in it).
async fn per_check(s: &AppState, name: &str, query: &str) -> Option<f64> {
    use dozor_ui::DataSource;
    let src = super::ui_source::Source { state: s.clone() };
    // A stored check's name is a slug: nothing to escape.
    let q = query.replace("{check}", name);
    src.query_instant(&q, src.now_ms())
        .await
        .ok()?
        .first()
        .map(|r| r.value)
        .filter(|v| v.is_finite())
}

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
    error: Option<FormError>,
) -> Response {
    let checks = match s.0.store.checks().await {
        Ok(c) => c,
        Err(e) => return super::storage_error(e),
    };
    let mut rows = Vec::with_capacity(checks.len());
    for c in checks {
        let up_now = per_check(&s, &c.name, r#"avg(probe_success{check="{check}"})"#).await;
        let mut uptime = [None; 3];
        for (i, w) in UPTIME_WINDOWS.iter().enumerate() {
            let q = format!(r#"avg(avg_over_time(probe_success{{check="{{check}}"}}[{w}]))"#);
            uptime[i] = per_check(&s, &c.name, &q).await;
        }
        rows.push(Row {
            check: c,
            up_now,
            uptime,
        });
    }
    let failed = error.is_some();
    let data = page::Data {
        rows,
        can_edit: u.role >= Role::Editor,
        notice,
        error,
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| page::body(ctx, data));
    let page = render(
        s,
        headers,
        None,
        u,
        Page::Custom("Checks".into(), "checks", body),
    )
    .await;
    super::guard::refused_if(page, failed)
}

#[instrument(skip_all)]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = q
        .get("done")
        .map(|_| "Saved; the agents start within a few seconds.".to_string());
    show(s, headers, u, notice, None).await
}

fn parse(f: &HashMap<String, String>) -> Result<Check, FormError> {
    let text = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let num = |k: &'static str| {
        let v = text(k);
        v.parse::<u32>()
            .map_err(|_| FormError::field(k, format!("{v:?} is not a whole number")))
    };
    let kind = match text("kind").as_str() {
        "http" | "" => Kind::Http,
        "tcp" => Kind::Tcp,
        "tls" => Kind::Tls,
        other => return Err(FormError::field("kind", format!("no kind {other:?}"))),
    };
    let agents = text("agents");
    Ok(Check {
        name: text("name"),
        kind,
        target: text("target"),
        agents: if agents.is_empty() || agents == "all" {
            Vec::new()
        } else {
            agents
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect()
        },
        interval_s: num("interval_s")?,
        timeout_s: num("timeout_s")?,
        body_match: Some(text("body_match")).filter(|b| !b.is_empty()),
    })
}

#[instrument(skip_all, fields(user = %u.name))]
pub async fn create(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let c = match parse(&f) {
        Ok(c) => c,
        Err(e) => return show(s, headers, u, None, Some(e)).await,
    };
    match ops::checks::save(&s.0.ops, &actor(&u, None), c).await {
        Ok(_) => Redirect::to("/checks?done=1").into_response(),
        Err(OpError::Fields(fields)) => {
            let e = fields
                .first()
                .map(|fe| FormError::new(Some(fe.field), fe.message.clone()));
            show(s, headers, u, None, e).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => show(s, headers, u, None, Some(FormError::general(n))).await,
        },
    }
}

#[instrument(skip_all, fields(user = %u.name, check = %name))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    match ops::checks::delete(&s.0.ops, &actor(&u, None), &name).await {
        Ok(()) => Redirect::to("/checks").into_response(),
        Err(e) => as_page(e),
    }
}
