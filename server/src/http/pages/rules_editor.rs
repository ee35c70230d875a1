//! The rule editor: presets, the fields, and the preview (the rule
//! replayed over the last 6 hours through the state machine). Editors and
//! admins only; saving is in `rules_page.rs`.

use super::authn::CurrentUser;
use super::guard::{form_guard, role_forbidden};
use super::rules_page::show_list;
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::builtin;
use crate::alerting::preview;
use crate::alerting::rules::Rule;
use crate::alerting::ui_rules::{self, RuleForm};
use crate::ops;
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
    const RULE: &str = "When it fires";
    const MESSAGE: &str = "What it says";
    const ROUTING: &str = "Where it goes and how often";
    let field = |name, label, value: &String, help, example, wide, group| page::Field {
        name,
        label,
        value: value.clone(),
        help,
        example,
        wide,
        group,
    };
    vec![
        field(
            "name",
            "Name",
            &f.name,
            "Letters, digits and _; shown as alertname.",
            "HighCpu",
            false,
            RULE,
        ),
        field(
            "expr",
            "Fires when (PromQL)",
            &f.expr,
            "Every series this returns is one alert.",
            "node_load1 > 4",
            true,
            RULE,
        ),
        field(
            "for",
            "For",
            &f.for_,
            "How long it must hold before it fires; empty: at once.",
            "5m",
            false,
            RULE,
        ),
        field(
            "keep_firing_for",
            "Keep firing for",
            &f.keep_firing_for,
            "Stay firing this long after it stops holding.",
            "2m",
            false,
            RULE,
        ),
        field(
            "interval",
            "Evaluate every",
            &f.interval,
            "Empty: every 30s.",
            "1m",
            false,
            RULE,
        ),
        field(
            "severity",
            "Severity",
            &f.severity,
            "critical, warning or info.",
            "warning",
            false,
            MESSAGE,
        ),
        field(
            "summary",
            "Summary",
            &f.summary,
            "One line; {{ $labels.NAME }} and {{ $value }} are filled in.",
            "{{ $labels.host }} at {{ $value | humanize }}",
            true,
            MESSAGE,
        ),
        field(
            "description",
            "Description",
            &f.description,
            "More detail (optional).",
            "What to check first",
            true,
            MESSAGE,
        ),
        field(
            "recovery_threshold",
            "Resolve only at",
            &f.recovery_threshold,
            "For A > N rules: resolve only once A is below this (stops flapping).",
            "70",
            false,
            ROUTING,
        ),
        field(
            "group_by",
            "Group by",
            &f.group_by,
            "Label names, comma-separated; alerts sharing them go out in one message.",
            "alertname, host",
            false,
            ROUTING,
        ),
        field(
            "channels",
            "Channels",
            &f.channels,
            "Notification channels, comma-separated; empty: default.",
            "default",
            false,
            ROUTING,
        ),
        field(
            "inhibits",
            "While firing, mute others with the same",
            &f.inhibits,
            "Label names: other alerts sharing their values stay quiet.",
            "host",
            false,
            ROUTING,
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

/// What the editor is editing.
#[derive(Debug, Clone)]
pub(crate) enum Editing {
    /// A rule made in the UI, by its name before this edit (empty: new).
    Ui(String),
    /// The built-in rule of this name.
    Builtin(String),
}

impl Editing {
    /// From the editor's hidden fields.
    pub(crate) fn of(f: &HashMap<String, String>) -> Self {
        match f.get("builtin").filter(|b| !b.is_empty()) {
            Some(b) => Editing::Builtin(b.clone()),
            None => Editing::Ui(f.get("original").cloned().unwrap_or_default()),
        }
    }
}

pub(crate) async fn show_editor(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    form: &RuleForm,
    editing: Editing,
    error: Option<String>,
    preview: Option<page::Preview>,
) -> Response {
    let (original, builtin) = match editing {
        Editing::Ui(original) => (original, None),
        Editing::Builtin(name) => (String::new(), Some(name)),
    };
    let editor = page::Editor {
        fields: fields(form),
        presets: ui_rules::PRESETS
            .iter()
            .map(|(key, title, before, after, default)| page::Preset {
                key: key.to_string(),
                title: title.to_string(),
                before: before.to_string(),
                after: after.to_string(),
                default: default.to_string(),
            })
            .collect(),
        preview,
        error,
        original,
        builtin_edited: builtin
            .as_deref()
            .and_then(builtin::find)
            .is_some_and(|b| b.form != *form),
        builtin,
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
            Ok(mut f) => {
                // A preset's name may be a built-in's: suggest another.
                if builtin::find(&f.name).is_some() {
                    f.name.push_str("Custom");
                }
                (f, None)
            }
            Err(e) => (RuleForm::default(), Some(e)),
        },
    };
    show_editor(
        s,
        headers,
        u,
        &form,
        Editing::Ui(String::new()),
        error,
        None,
    )
    .await
}

/// `/rules/edit?name=X` (a rule made in the UI) or `?builtin=X`.
pub async fn edit(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if u.role < Role::Editor {
        return role_forbidden(Role::Editor);
    }
    if let Some(name) = q.get("builtin") {
        let list = match ops::rules::builtins(&s.0.ops).await {
            Ok(l) => l,
            Err(e) => return super::guard::as_page(e),
        };
        return match list.into_iter().find(|e| e.form.name == *name) {
            Some(e) => {
                let editing = Editing::Builtin(name.clone());
                show_editor(s, headers, u, &e.form, editing, e.error, None).await
            }
            None => {
                let notice = format!("There is no built-in rule called {name:?}.");
                show_list(s, headers, u, Some(notice)).await
            }
        };
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
        Some(form) => show_editor(s, headers, u, &form, Editing::Ui(name), None, None).await,
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
    let original = Editing::of(&f);
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
                    marks: vec![],
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
