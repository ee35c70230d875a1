//! A service's Scaling screen: parse, call `ops::autoscale` (or the
//! preview), render.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::ui::{render, Page};
use super::AppState;
use crate::ops::{self, OpError};
use crate::storage::Role;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dozor_common::autoscale::{Metric, Policy, Rule};
use dozor_ui::components::form::FormError;
use dozor_ui::pages::services::scaling::{self as page, Event, Preview};
use std::collections::HashMap;
use tracing::instrument;

/// How long back the screen lists decisions.
const EVENTS_MS: i64 = 7 * 86_400_000;
/// The replica chart: a day, in 480 steps (each the highest count seen
/// in it, so a short-lived replica still shows).
const CHART_MS: i64 = 86_400_000;
const CHART_STEP_MS: i64 = CHART_MS / 480;

/// Running replicas of `service` over the chart's window, from the
/// autoscaler's own series.
async fn replicas(s: &AppState, service: &str, now: i64) -> (page::Window, Vec<(i64, f64)>) {
    // The step boundary at or after now, so the last step holds what
    // just happened.
    let end = now - now % CHART_STEP_MS + CHART_STEP_MS;
    let w = page::Window {
        start: end - CHART_MS,
        end,
        step: CHART_STEP_MS,
    };
    let q = format!(
        r#"max(max_over_time(dozor_service_replicas{{job="dozor",service="{service}",state="running"}}[{}s]))"#,
        CHART_STEP_MS / 1000
    );
    let range = crate::promql::Range {
        start_ms: w.start,
        end_ms: w.end,
        step_ms: w.step,
    };
    let points = match s.0.engine.range(&q, range).await {
        Ok(crate::promql::Value::Matrix(m)) => {
            m.into_iter().next().map(|s| s.points).unwrap_or_default()
        }
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "replica chart");
            Vec::new()
        }
    };
    (w, points)
}

struct Shown2 {
    draft: Option<Policy>,
    preview: Option<Preview>,
    notice: Option<String>,
    error: Option<FormError>,
}

async fn show(s: AppState, headers: HeaderMap, u: CurrentUser, name: &str, o: Shown2) -> Response {
    let ops_ = &s.0.ops;
    let service = match s.0.store.service(name).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return crate::http::Problem::new(
                StatusCode::NOT_FOUND,
                format!("no service called {name}"),
            )
            .page()
        }
        Err(e) => return super::storage_error(e),
    };
    let (stored, events, running) = match (
        ops::autoscale::policy(ops_, name).await,
        ops::autoscale::events(ops_, Some(name), ops_.now_ms() - EVENTS_MS).await,
        ops::autoscale::running(ops_, &service.spec.host, name).await,
    ) {
        (Ok(p), Ok(e), Ok(r)) => (p, e, r),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return super::guard::as_page(e),
    };
    let failed = o.error.is_some();
    let (window, replica_points) = replicas(&s, name, ops_.now_ms()).await;
    let data = page::Data {
        service: name.to_string(),
        stored: stored.is_some(),
        draft: o.draft.or(stored).unwrap_or_else(|| Policy {
            service: name.to_string(),
            ..Default::default()
        }),
        running,
        last: s.0.autoscaler.last(name),
        events: events
            .into_iter()
            .map(|e| Event {
                ts_ms: e.ts_ms,
                kind: e.kind,
                direction: e.direction,
                from: e.from,
                to: e.to,
                value: e.value,
                reason: e.reason,
                dry_run: e.dry_run,
                actor: e.actor,
                result: e.result,
            })
            .collect(),
        window,
        replicas: replica_points,
        preview: o.preview,
        can_edit: u.role >= Role::Editor,
        notice: o.notice,
        error: o.error,
    };
    let body: super::ui::BodyFn = Box::new(move |ctx| page::body(ctx, data));
    let title = format!("Scaling: {name}");
    let page = render(s, headers, None, u, Page::Custom(title, "services", body)).await;
    super::guard::refused_if(page, failed)
}

#[instrument(skip_all, fields(service = %name))]
pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = q.get("done").map(|what| match what.as_str() {
        "scale" => "Sent to the host; the change shows below when it answers.".to_string(),
        "deleted" => "Policy deleted; replicas stay as they are.".to_string(),
        _ => "Policy saved; the autoscaler applies it at its next evaluation.".to_string(),
    });
    show(
        s,
        headers,
        u,
        &name,
        Shown2 {
            draft: None,
            preview: None,
            notice,
            error: None,
        },
    )
    .await
}

/// The form as a policy, or the first field that is not a number.
fn parse(service: &str, f: &HashMap<String, String>) -> Result<Policy, FormError> {
    let text = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let on = |k: &str| f.get(k).is_some_and(|v| v == "1" || v == "on");
    let int = |k: &'static str, field: &'static str| {
        text(k).parse::<u32>().map_err(|_| {
            FormError::field(field, format!("{k}: {:?} is not a whole number", text(k)))
        })
    };
    let real = |k: &'static str, field: &'static str| {
        text(k)
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| FormError::field(field, format!("{k}: {:?} is not a number", text(k))))
    };
    let rule = |dir: &'static str| -> Result<Rule, FormError> {
        let k = |what: &str| -> &'static str {
            match (dir, what) {
                ("up", "threshold") => "up_threshold",
                ("up", "for_s") => "up_for_s",
                ("up", "step") => "up_step",
                ("up", _) => "up_cooldown_s",
                (_, "threshold") => "down_threshold",
                (_, "for_s") => "down_for_s",
                (_, "step") => "down_step",
                _ => "down_cooldown_s",
            }
        };
        Ok(Rule {
            threshold: real(k("threshold"), dir)?,
            for_s: int(k("for_s"), dir)?,
            step: int(k("step"), dir)?,
            cooldown_s: int(k("cooldown_s"), dir)?,
        })
    };
    Ok(Policy {
        service: service.to_string(),
        enabled: on("enabled"),
        dry_run: on("dry_run"),
        min: int("min", "min")?,
        max: int("max", "max")?,
        metric: Metric::parse(&text("metric"))
            .ok_or_else(|| FormError::field("promql", "choose what to watch"))?,
        promql: Some(text("promql")).filter(|q| !q.is_empty()),
        window_s: int("window_s", "window_s")?,
        up: rule("up")?,
        down: rule("down")?,
        tolerance: real("tolerance", "up")?,
        drain_s: int("drain_s", "up")?,
        template: Some(text("template")).filter(|t| !t.is_empty()),
    })
}

/// Save, preview or delete the policy.
#[instrument(skip_all, fields(user = %u.name, service = %name))]
pub async fn submit(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let who = actor(&u, None);
    if f.get("do").map(String::as_str) == Some("delete") {
        return match ops::autoscale::delete_policy(&s.0.ops, &who, &name).await {
            Ok(()) => {
                Redirect::to(&format!("/services/{name}/scaling?done=deleted")).into_response()
            }
            Err(e) => refused(s, headers, u, &name, None, e).await,
        };
    }
    let p = match parse(&name, &f) {
        Ok(p) => p,
        Err(e) => {
            let o = Shown2 {
                draft: None,
                preview: None,
                notice: None,
                error: Some(e),
            };
            return show(s, headers, u, &name, o).await;
        }
    };
    if f.get("do").map(String::as_str) == Some("preview") {
        let preview = match ops::autoscale::preview(&s.0.ops, &s.0.engine, &p).await {
            Ok(v) => v,
            Err(e) => return refused(s, headers, u, &name, Some(p), e).await,
        };
        let o = Shown2 {
            draft: Some(p),
            preview: Some(preview),
            notice: None,
            error: None,
        };
        return show(s, headers, u, &name, o).await;
    }
    match ops::autoscale::save_policy(&s.0.ops, &who, p.clone()).await {
        Ok(_) => Redirect::to(&format!("/services/{name}/scaling?done=saved")).into_response(),
        Err(e) => refused(s, headers, u, &name, Some(p), e).await,
    }
}

#[instrument(skip_all, fields(user = %u.name, service = %name))]
pub async fn scale(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let Some(n) = f.get("replicas").and_then(|v| v.trim().parse::<u32>().ok()) else {
        let e = OpError::Invalid("replicas: a whole number".into());
        return refused(s, headers, u, &name, None, e).await;
    };
    match ops::autoscale::scale_to(&s.0.ops, &actor(&u, None), &name, n).await {
        Ok(_) => Redirect::to(&format!("/services/{name}/scaling?done=scale")).into_response(),
        Err(e) => refused(s, headers, u, &name, None, e).await,
    }
}

async fn refused(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    name: &str,
    draft: Option<Policy>,
    e: OpError,
) -> Response {
    let error = match e {
        OpError::Fields(fields) => fields
            .first()
            .map(|fe| FormError::new(Some(fe.field), fe.message.clone())),
        e => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => Some(FormError::general(n)),
        },
    };
    show(
        s,
        headers,
        u,
        name,
        Shown2 {
            draft,
            preview: None,
            notice: None,
            error,
        },
    )
    .await
}
