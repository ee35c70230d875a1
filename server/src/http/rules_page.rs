//! Alert rules in the UI: the list (everyone), and for editors and admins
//! the editor with presets, a preview of the last 6 hours (the rule
//! replayed through the state machine), save and delete. Rules from files
//! are listed but edited in their files; UI rules may not reuse their
//! names. Saving and deleting are CSRF-checked and audited.

use super::authn::{audit, CurrentUser};
use super::guard::form_guard;
use super::rules_editor::{form_of, show_editor};
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::rules::Rule;
use crate::alerting::service;
use crate::alerting::state::State as AlertState;
use crate::storage::{Role, UiRuleRow};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::pages::rules as page;
use std::collections::HashMap;

pub(super) async fn show_list(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
) -> Response {
    let ui_rows = match s.0.store.ui_rules().await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    let authors: HashMap<String, String> =
        ui_rows.into_iter().map(|r| (r.name, r.author)).collect();
    let mut rows = Vec::new();
    if let Some(a) = &s.0.alerting {
        let snapshot = a.snapshot().await;
        for g in a.all_groups() {
            for r in &g.rules {
                let Rule::Alert(def) = r else { continue };
                let count = |st: AlertState| {
                    snapshot
                        .get(&def.name)
                        .map_or(0, |m| m.values().filter(|x| x.state == st).count())
                };
                let author = authors.get(&def.name);
                rows.push(page::RuleRow {
                    name: def.name.clone(),
                    source: match author {
                        Some(who) => format!("UI (by {who})"),
                        None => "file".into(),
                    },
                    expr: def.expr.clone(),
                    for_: crate::alerting::telegram::human_duration(def.timing.for_ms),
                    severity: def.severity().into(),
                    firing: count(AlertState::Firing),
                    pending: count(AlertState::Pending),
                    error: a.health(&def.name).and_then(|h| h.1),
                    editable: author.is_some(),
                });
            }
        }
        for (name, error) in a.broken_ui_rules() {
            rows.push(page::RuleRow {
                source: format!(
                    "UI (by {})",
                    authors.get(&name).map(String::as_str).unwrap_or("?")
                ),
                expr: "(not evaluated: it does not compile)".into(),
                for_: String::new(),
                severity: String::new(),
                firing: 0,
                pending: 0,
                error: Some(error),
                editable: true,
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
    let original = f.get("original").cloned().unwrap_or_default();
    let Some(a) = s.0.alerting.clone() else {
        return show_editor(
            s,
            headers,
            u,
            &form,
            original,
            Some("alerting is not running".into()),
            None,
        )
        .await;
    };
    let interval = a.config.default_interval.as_millis() as i64;
    let (yaml, groups) = match form.compile(interval) {
        Ok(compiled) => compiled,
        Err(e) => return show_editor(s, headers, u, &form, original, Some(e), None).await,
    };
    for rule in groups.iter().flat_map(|g| &g.rules) {
        let Rule::Alert(def) = rule else { continue };
        for (field, expr) in [
            ("expr", Some(&def.expr)),
            ("recovery", def.recovery.as_ref()),
        ] {
            let Some(expr) = expr else { continue };
            if let Err(e) = a.try_expr(expr).await {
                let e = format!("{field}: cannot be evaluated: {e}");
                return show_editor(s, headers, u, &form, original, Some(e), None).await;
            }
        }
    }
    let name = form.name.trim().to_string();
    if a.file_rule_names().contains(&name) {
        let e = format!("name: {name} is a rule from a rule file; choose another name");
        return show_editor(s, headers, u, &form, original, Some(e), None).await;
    }
    let existing = match s.0.store.ui_rules().await {
        Ok(r) => r,
        Err(e) => return super::storage_error(e),
    };
    if name != original && existing.iter().any(|r| r.name == name) {
        let e = format!("name: a rule called {name} exists; edit that one");
        return show_editor(s, headers, u, &form, original, Some(e), None).await;
    }
    let row = UiRuleRow {
        name: name.clone(),
        spec: yaml,
        author: u.name.clone(),
        updated_ms: s.0.auth.now_ms(),
    };
    if let Err(e) = s.0.store.save_ui_rule(&row).await {
        return super::storage_error(e);
    }
    if !original.is_empty() && original != name {
        if let Err(e) = s.0.store.delete_ui_rule(&original).await {
            return super::storage_error(e);
        }
    }
    if let Err(e) = service::reload_ui_rules(&a, &s.0.store).await {
        return super::storage_error(e);
    }
    audit(&s, &u.name, "rule.save", Some(&name), None).await;
    show_list(
        s,
        headers,
        u,
        Some(format!("Rule {name} saved; it is evaluated from now on.")),
    )
    .await
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
    let notice = match s.0.store.delete_ui_rule(&name).await {
        Ok(true) => {
            if let Some(a) = &s.0.alerting {
                if let Err(e) = service::reload_ui_rules(a, &s.0.store).await {
                    return super::storage_error(e);
                }
            }
            audit(&s, &u.name, "rule.delete", Some(&name), None).await;
            format!("Rule {name} deleted.")
        }
        Ok(false) => format!("No rule called {name:?} was made in the UI."),
        Err(e) => return super::storage_error(e),
    };
    show_list(s, headers, u, Some(notice)).await
}
