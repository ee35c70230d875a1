//! Alert rules in the UI: the list (everyone), and for editors and admins
//! the editor with presets, a preview of the last 6 hours (the rule
//! replayed through the state machine), save and delete. Rules from files
//! are listed but edited in their files; UI rules may not reuse their
//! names. Saving and deleting are CSRF-checked and audited.

use super::authn::CurrentUser;
use super::guard::{actor, form_guard, on_page, Shown};
use super::rules_editor::{form_of, show_editor};
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::rules::Rule;
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
                        .get(&def.key)
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
                    error: a.health(&def.key).and_then(|h| h.1),
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
    match ops::rules::save(&s.0.ops, &actor(&u, None), &form, &original).await {
        Ok(name) => {
            let notice = format!("Rule {name} saved; it is evaluated from now on.");
            show_list(s, headers, u, Some(notice)).await
        }
        Err(e) => match on_page(e) {
            Shown::Answer(r) => r,
            Shown::Notice(n) => show_editor(s, headers, u, &form, original, Some(n), None).await,
        },
    }
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
