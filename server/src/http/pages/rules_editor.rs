//! The rule editor: presets, the fields, and the preview (the rule
//! replayed over the last 6 hours through the state machine). Editors and
//! admins only; saving is in `rules_page.rs`.

use super::authn::CurrentUser;
use super::guard::{form_guard, role_forbidden};
use super::rules_page::show_list;
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::preview;
use crate::alerting::rules::Rule;
use crate::alerting::ui_rules::{self, RuleForm};
use crate::storage::Role;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::pages::rules as page;
use std::collections::HashMap;

const PREVIEW_MS: i64 = 6 * 3_600_000;
const PREVIEW_STEP_MS: i64 = 60_000;

fn fields(f: &RuleForm) -> Vec<page::Field> {
    let field = |name, label, value: &String, hint, wide| page::Field {
        name,
        label,
        value: value.clone(),
        hint,
        wide,
    };
    vec![
        field("name", "Name", &f.name, "e.g. HighCpu", false),
        field(
            "expr",
            "Fires when (PromQL)",
            &f.expr,
            "e.g. node_load1 > 4",
            true,
        ),
        field(
            "for",
            "For",
            &f.for_,
            "how long it must hold, e.g. 5m",
            false,
        ),
        field(
            "keep_firing_for",
            "Keep firing for",
            &f.keep_firing_for,
            "e.g. 2m",
            false,
        ),
        field(
            "recovery_threshold",
            "Resolve only at",
            &f.recovery_threshold,
            "hysteresis for A > N: e.g. 70",
            false,
        ),
        field(
            "severity",
            "Severity",
            &f.severity,
            "critical, warning or info",
            false,
        ),
        field(
            "summary",
            "Summary",
            &f.summary,
            "{{ $labels.host }} at {{ $value | humanize }}",
            true,
        ),
        field(
            "description",
            "Description",
            &f.description,
            "more detail (optional)",
            true,
        ),
        field(
            "interval",
            "Evaluate every",
            &f.interval,
            "default 30s",
            false,
        ),
        field(
            "group_by",
            "Group by",
            &f.group_by,
            "label names; default alertname",
            false,
        ),
        field("channels", "Channels", &f.channels, "default", false),
        field(
            "inhibits",
            "While firing, mute others with the same",
            &f.inhibits,
            "label names, e.g. host",
            false,
        ),
    ]
}

pub(crate) fn form_of(f: &HashMap<String, String>) -> RuleForm {
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    RuleForm {
        name: g("name"),
        expr: g("expr"),
        for_: g("for"),
        keep_firing_for: g("keep_firing_for"),
        recovery_threshold: g("recovery_threshold"),
        severity: g("severity"),
        summary: g("summary"),
        description: g("description"),
        interval: g("interval"),
        group_by: g("group_by"),
        channels: g("channels"),
        inhibits: g("inhibits"),
    }
}

pub(crate) async fn show_editor(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    form: &RuleForm,
    original: String,
    error: Option<String>,
    preview: Option<page::Preview>,
) -> Response {
    let editor = page::Editor {
        fields: fields(form),
        presets: ui_rules::PRESETS
            .iter()
            .map(|(k, t, h, d)| (k.to_string(), t.to_string(), h.to_string(), d.to_string()))
            .collect(),
        preview,
        error,
        original,
    };
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::editor_body(ctx, editor));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Rule".into(), "rules", body),
    )
    .await
}

/// `/rules/new`, optionally `?preset=cpu&param=90`.
pub async fn new(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if u.role < Role::Editor {
        return role_forbidden(Role::Editor);
    }
    let (form, error) = match q.get("preset") {
        None => (RuleForm::default(), None),
        Some(key) => match ui_rules::preset(key, q.get("param").map_or("", |p| p.as_str())) {
            Ok(f) => (f, None),
            Err(e) => (RuleForm::default(), Some(e)),
        },
    };
    show_editor(s, headers, u, &form, String::new(), error, None).await
}

/// `/rules/edit?name=X`: a rule made in the UI.
pub async fn edit(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if u.role < Role::Editor {
        return role_forbidden(Role::Editor);
    }
    let name = q.get("name").cloned().unwrap_or_default();
    let rows = match s.0.store.ui_rules().await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    match rows
        .iter()
        .find(|r| r.name == name)
        .and_then(|r| RuleForm::from_yaml(&r.spec))
    {
        Some(form) => show_editor(s, headers, u, &form, name, None, None).await,
        None => {
            show_list(
                s,
                headers,
                u,
                Some(format!("No rule called {name:?} was made in the UI.")),
            )
            .await
        }
    }
}

/// Replays the form's rule over the last 6 hours.
#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn preview(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let form = form_of(&f);
    let original = f.get("original").cloned().unwrap_or_default();
    let interval =
        s.0.alerting
            .as_ref()
            .map_or(30_000, |a| a.config.default_interval.as_millis() as i64);
    let rule = match form.compile(interval) {
        Ok((_, groups)) => match groups
            .into_iter()
            .next()
            .and_then(|g| g.rules.into_iter().next())
        {
            Some(Rule::Alert(a)) => a,
            _ => {
                return show_editor(
                    s,
                    headers,
                    u,
                    &form,
                    original,
                    Some("not an alerting rule".into()),
                    None,
                )
                .await
            }
        },
        Err(e) => return show_editor(s, headers, u, &form, original, Some(e), None).await,
    };
    let end = s.0.auth.now_ms() / PREVIEW_STEP_MS * PREVIEW_STEP_MS;
    let start = end - PREVIEW_MS;
    let engine = s.0.engine.with_timeout(std::time::Duration::from_secs(20));
    match preview::run(&engine, &rule, start, end, PREVIEW_STEP_MS).await {
        Ok(p) => {
            let summary = match (p.episodes, p.alerts) {
                (0, _) => "It would not have fired.".to_string(),
                (e, a) => format!("It would have fired {e} time(s), for {a} alert(s) (shaded)."),
            } + &if p.more_series > 0 {
                format!(" Showing 10 series of {}.", 10 + p.more_series)
            } else {
                String::new()
            };
            let view = page::Preview {
                chart: dozor_ui::chart::Chart {
                    start: p.start_ms,
                    end: p.end_ms,
                    step: p.step_ms,
                    unit: dozor_ui::chart::Unit::Short,
                    kind: dozor_ui::chart::Kind::Line,
                    thresholds: p.threshold.into_iter().collect(),
                    y_max: None,
                    bands: p.firing,
                    width: 900.0,
                    height: 260.0,
                },
                series: p
                    .series
                    .into_iter()
                    .map(|(name, points)| dozor_ui::chart::Series { name, points })
                    .collect(),
                summary,
            };
            show_editor(s, headers, u, &form, original, None, Some(view)).await
        }
        Err(e) => {
            show_editor(
                s,
                headers,
                u,
                &form,
                original,
                Some(format!("expr: {e}")),
                None,
            )
            .await
        }
    }
}
