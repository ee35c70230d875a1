//! Alert rules: every rule (from files and from the UI) with its state,
//! and the editor: presets, the fields, and a preview chart of the last
//! hours with the stretches where the rule would have fired shaded.

use crate::chart::{self, Chart, Series};
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct RuleRow {
    pub name: String,
    /// "file" or "UI (by NAME)".
    pub source: String,
    pub expr: String,
    pub for_: String,
    pub severity: String,
    pub firing: usize,
    pub pending: usize,
    pub error: Option<String>,
    /// Made in the UI, so it can be edited here.
    pub editable: bool,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub hint: &'static str,
    pub wide: bool,
}

#[derive(Debug, Clone)]
pub struct Preview {
    pub chart: Chart,
    pub series: Vec<Series>,
    pub summary: String,
}

#[derive(Debug, Clone, Default)]
pub struct Editor {
    pub fields: Vec<Field>,
    /// (key, title, parameter hint, default parameter)
    pub presets: Vec<(String, String, String, String)>,
    pub preview: Option<Preview>,
    pub error: Option<String>,
    /// The rule's name before this edit (empty for a new rule).
    pub original: String,
}

pub fn list_body(ctx: &Ctx, rows: Vec<RuleRow>, notice: Option<String>, can_edit: bool) -> AnyView {
    let csrf = ctx.csrf.clone();
    let rows = rows
        .into_iter()
        .map(|r| {
            let state = match (r.firing, r.pending, &r.error) {
                (_, _, Some(_)) => view! { <span class="badge bad">"error"</span> }.into_any(),
                (f, _, _) if f > 0 => view! { <span class="badge bad">{format!("{f} firing")}</span> }.into_any(),
                (_, p, _) if p > 0 => view! { <span class="badge warn">{format!("{p} pending")}</span> }.into_any(),
                _ => view! { <span class="badge ok">"ok"</span> }.into_any(),
            };
            let actions = (r.editable && can_edit).then(|| {
                let edit = format!("/rules/edit?name={}", urlencode(&r.name));
                view! {
                    <a href=edit>"Edit"</a>
                    <form method="post" class="inline" action="/rules/delete">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="name" value=r.name.clone()/>
                        <button type="submit" data-confirm="Delete this rule?">"Delete"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <td>{state}</td>
                    <td><b>{r.name}</b></td>
                    <td><code>{r.expr}</code>{r.error.map(|e| view! { <div class="error">{e}</div> })}</td>
                    <td>{r.for_}</td>
                    <td>{r.severity}</td>
                    <td>{r.source}</td>
                    <td>{actions}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {notice.map(|n| view! { <p class="notice">{n}</p> })}
        {can_edit.then(|| view! { <p><a class="button" href="/rules/new">"New rule"</a></p> })}
        <table class="data rules">
            <thead><tr><th>"State"</th><th>"Rule"</th><th>"Expression"</th><th>"For"</th><th>"Severity"</th><th>"Source"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// Enough percent-encoding for a rule name in a query string.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn editor_body(ctx: &Ctx, e: Editor) -> AnyView {
    let presets = e
        .presets
        .into_iter()
        .map(|(key, title, hint, default)| {
            view! {
                <form method="get" action="/rules/new" class="inline preset">
                    <input type="hidden" name="preset" value=key/>
                    <label>{title}" "<input name="param" value=default class="short" title=hint.clone()/></label>
                    <span class="hint">{hint}</span>
                    <button type="submit">"Use"</button>
                </form>
            }
        })
        .collect_view();
    let fields = e
        .fields
        .into_iter()
        .map(|f| {
            let class = if f.wide { "wide" } else { "" };
            view! {
                <label class="field">
                    <span>{f.label}</span>
                    <input name=f.name value=f.value class=class title=f.hint placeholder=f.hint/>
                </label>
            }
        })
        .collect_view();
    let preview = e.preview.map(|p| {
        view! {
            <section class="preview">
                <h2>"Preview: the last 6 hours"</h2>
                <p>{p.summary}</p>
                {chart::render(&p.chart, &p.series)}
            </section>
        }
    });
    view! {
        <details class="presets" open=e.original.is_empty()>
            <summary>"Presets"</summary>
            {presets}
        </details>
        {e.error.map(|m| view! { <p class="notice error">{m}</p> })}
        <form method="post" action="/rules/preview" class="rule-editor">
            <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
            <input type="hidden" name="original" value=e.original/>
            {fields}
            <p>
                <button type="submit">"Preview"</button>
                " "
                <button type="submit" formaction="/rules/save">"Save"</button>
            </p>
        </form>
        {preview}
    }
    .into_any()
}
