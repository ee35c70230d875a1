//! Alert rules in the UI: the list (everyone), and for editors and admins
//! the editor with presets, a preview of the last 6 hours (the rule
//! replayed through the state machine), save and delete. Rules from files
//! are listed but edited in their files; UI rules may not reuse their
//! names. Saving and deleting are CSRF-checked and audited.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::rules_editor::{form_of, show_editor, Editing};
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::builtin;
use crate::alerting::rules::{parse_key, AlertRule, Rule};
use crate::alerting::state::State as AlertState;
use crate::ops;
use crate::storage::Role;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::pages::rules as page;
use std::collections::HashMap;

pub(crate) async fn show_list(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
) -> Response {
    let ui_rows = match s.0.store.ui_rules().await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    let builtins = match ops::rules::builtins(&s.0.ops).await {
        Ok(b) => b,
        Err(e) => return super::guard::as_page(e),
    };
    let authors: HashMap<String, String> =
        ui_rows.into_iter().map(|r| (r.name, r.author)).collect();
    let mut rows = Vec::new();
    if let Some(a) = &s.0.alerting {
        let snapshot = a.snapshot().await;
        let running = a.all_groups();
        let mut defs: Vec<&AlertRule> = Vec::new();
        for g in &running {
            for r in &g.rules {
                if let Rule::Alert(def) = r {
                    defs.push(def);
                }
            }
        }
        let row = |def: &AlertRule, origin: page::Origin, error: Option<String>| {
            let count = |st: AlertState| {
                snapshot
                    .get(&def.key)
                    .map_or(0, |m| m.values().filter(|x| x.state == st).count())
            };
            page::RuleRow {
                name: def.name.clone(),
                origin,
                expr: def.expr.clone(),
                for_: crate::alerting::telegram::human_duration(def.timing.for_ms),
                severity: def.severity().into(),
                firing: count(AlertState::Firing),
                pending: count(AlertState::Pending),
                error: a.health(&def.key).and_then(|h| h.1).or(error),
            }
        };
        // Built-ins first, in the shipped order; disabled ones too.
        if a.config.builtin_rules {
            for e in &builtins {
                let origin = page::Origin::Builtin {
                    disabled: e.disabled,
                    edited: e.edited(),
                    changed_by: e.changed_by.clone(),
                };
                let error = e.error.clone().map(|m| {
                    format!("The stored edit does not compile ({m}); the shipped rule runs.")
                });
                match defs.iter().find(|d| {
                    parse_key(&d.key).is_some_and(|k| k.0 == builtin::SOURCE)
                        && d.name == e.form.name
                }) {
                    Some(def) => rows.push(row(def, origin, error)),
                    None => rows.push(page::RuleRow {
                        name: e.form.name.clone(),
                        origin,
                        expr: e.form.expr.clone(),
                        for_: e.form.for_.clone(),
                        severity: e.form.severity.clone(),
                        firing: 0,
                        pending: 0,
                        error,
                    }),
                }
            }
        }
        for def in defs {
            let source = parse_key(&def.key).map(|k| k.0).unwrap_or_default();
            if source == builtin::SOURCE {
                continue;
            }
            let origin = match authors.get(&def.name) {
                Some(who) if source.starts_with("ui:") => page::Origin::Ui {
                    author: who.clone(),
                },
                _ => page::Origin::File,
            };
            rows.push(row(def, origin, None));
        }
        for (name, error) in a.broken_ui_rules() {
            rows.push(page::RuleRow {
                origin: page::Origin::Ui {
                    author: authors.get(&name).cloned().unwrap_or_else(|| "?".into()),
                },
                expr: "(not evaluated: it does not compile)".into(),
                for_: String::new(),
                severity: String::new(),
                firing: 0,
                pending: 0,
                error: Some(error),
                name,
            });
        }
    }
    let can_edit = u.role >= Role::Editor;
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::list_body(ctx, rows, notice, can_edit));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Rules".into(), "rules", body),
    )
    .await
}

pub async fn list(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    show_list(s, headers, u, None).await
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn save(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let form = form_of(&f);
    let editing = Editing::of(&f);
    let who = actor(&u, None);
    let saved = match &editing {
        Editing::Builtin(name) => ops::rules::save_builtin(&s.0.ops, &who, name, &form)
            .await
            .map(|()| name.clone()),
        Editing::Ui(original) => ops::rules::save(&s.0.ops, &who, &form, original).await,
    };
    match saved {
        Ok(name) => {
            let notice = format!("Rule {name} saved; it is evaluated from now on.");
            show_list(s, headers, u, Some(notice)).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => show_editor(s, headers, u, &form, editing, Some(n), None).await,
        },
    }
}

/// A built-in rule: `action` is disable, enable or reset.
#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn builtin_action(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let name = f.get("name").cloned().unwrap_or_default();
    let who = actor(&u, None);
    let ops = &s.0.ops;
    let (done, outcome) = match f.get("action").map(String::as_str) {
        Some("disable") => (
            "turned off",
            ops::rules::set_builtin_disabled(ops, &who, &name, true).await,
        ),
        Some("enable") => (
            "turned on",
            ops::rules::set_builtin_disabled(ops, &who, &name, false).await,
        ),
        Some("reset") => (
            "back to the shipped rule",
            ops::rules::reset_builtin(ops, &who, &name).await,
        ),
        _ => {
            return super::guard::as_page(ops::OpError::Invalid(
                "action: disable, enable or reset".into(),
            ))
        }
    };
    let notice = match outcome {
        Ok(()) => format!("Built-in rule {name} {done}."),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => n,
        },
    };
    show_list(s, headers, u, Some(notice)).await
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Editor) {
        return refused;
    }
    let name = f.get("name").cloned().unwrap_or_default();
    let notice = match ops::rules::delete(&s.0.ops, &actor(&u, None), &name).await {
        Ok(()) => format!("Rule {name} deleted."),
        Err(e) => match on_page(e) {
            Shown::Answer(r) => return r,
            Shown::Notice(n) => n,
        },
    };
    show_list(s, headers, u, Some(notice)).await
}
