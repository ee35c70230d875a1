//! Alert rules: every rule (built-in, from files and from the UI) with its
//! state, and the editor: presets, the fields in groups, and a preview
//! chart of the last hours with the stretches where the rule would have
//! fired shaded.

use crate::chart::{self, Chart, Series};
use crate::components::shell::Ctx;
use leptos::prelude::*;

/// Where a rule comes from, which decides what can be done with it here.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Shipped with dozor: edit, disable, enable, reset.
    Builtin {
        disabled: bool,
        edited: bool,
        changed_by: Option<String>,
    },
    /// A rule file: edited in its file.
    File,
    /// Made in the UI: edit, delete.
    Ui { author: String },
}

#[derive(Debug, Clone)]
pub struct RuleRow {
    pub name: String,
    pub origin: Origin,
    pub expr: String,
    pub for_: String,
    pub severity: String,
    pub firing: usize,
    pub pending: usize,
    pub error: Option<String>,
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::Builtin {
                edited: true,
                changed_by: Some(who),
                ..
            } => format!("built-in, edited by {who}"),
            Origin::Builtin { edited: true, .. } => "built-in, edited".into(),
            Origin::Builtin { .. } => "built-in".into(),
            Origin::File => "file".into(),
            Origin::Ui { author } => format!("UI (by {author})"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    /// Shown under the field.
    pub help: &'static str,
    /// An example, shown in the empty field.
    pub example: &'static str,
    pub wide: bool,
    /// The fieldset it belongs to.
    pub group: &'static str,
}

#[derive(Debug, Clone)]
pub struct Preview {
    pub chart: Chart,
    pub series: Vec<Series>,
    pub summary: String,
}

/// A preset: a rule filled in from one number.
#[derive(Debug, Clone)]
pub struct Preset {
    pub key: String,
    pub title: String,
    /// The sentence around the number: "after [5] minutes without data".
    pub before: String,
    pub after: String,
    pub default: String,
}

#[derive(Debug, Clone, Default)]
pub struct Editor {
    pub fields: Vec<Field>,
    pub presets: Vec<Preset>,
    pub preview: Option<Preview>,
    pub error: Option<String>,
    /// The rule's name before this edit (empty for a new rule).
    pub original: String,
    /// Editing the built-in rule of this name (its name is fixed).
    pub builtin: Option<String>,
    /// The built-in differs from the shipped rule (offer a reset).
    pub builtin_edited: bool,
}

fn state_badge(r: &RuleRow) -> AnyView {
    if matches!(r.origin, Origin::Builtin { disabled: true, .. }) {
        return view! { <span class="badge muted">"off"</span> }.into_any();
    }
    match (r.firing, r.pending, &r.error) {
        (_, _, Some(_)) => view! { <span class="badge bad">"error"</span> }.into_any(),
        (f, _, _) if f > 0 => {
            view! { <span class="badge bad">{format!("{f} firing")}</span> }.into_any()
        }
        (_, p, _) if p > 0 => {
            view! { <span class="badge warn">{format!("{p} pending")}</span> }.into_any()
        }
        _ => view! { <span class="badge ok">"ok"</span> }.into_any(),
    }
}

/// A one-button form posting `name` (and `action`) to `path`.
fn post_button(
    csrf: &str,
    path: &'static str,
    name: &str,
    action: &'static str,
    label: &'static str,
    confirm: Option<&'static str>,
) -> AnyView {
    view! {
        <form method="post" class="inline" action=path>
            <input type="hidden" name="csrf" value=csrf.to_string()/>
            <input type="hidden" name="name" value=name.to_string()/>
            <input type="hidden" name="action" value=action/>
            <button type="submit" data-confirm=confirm>{label}</button>
        </form>
    }
    .into_any()
}

fn actions(r: &RuleRow, csrf: &str) -> AnyView {
    match &r.origin {
        Origin::Builtin {
            disabled, edited, ..
        } => {
            let edit = format!("/rules/edit?builtin={}", urlencode(&r.name));
            let toggle = if *disabled {
                post_button(csrf, "/rules/builtin", &r.name, "enable", "Enable", None)
            } else {
                post_button(
                    csrf,
                    "/rules/builtin",
                    &r.name,
                    "disable",
                    "Disable",
                    Some("Turn this built-in rule off? Its current alerts are forgotten."),
                )
            };
            let reset = edited.then(|| {
                post_button(
                    csrf,
                    "/rules/builtin",
                    &r.name,
                    "reset",
                    "Reset",
                    Some("Go back to the shipped rule? Your edit is lost."),
                )
            });
            view! { <a class="button" href=edit>"Edit"</a>{toggle}{reset} }.into_any()
        }
        Origin::Ui { .. } => {
            let edit = format!("/rules/edit?name={}", urlencode(&r.name));
            view! {
                <a class="button" href=edit>"Edit"</a>
                {post_button(csrf, "/rules/delete", &r.name, "delete", "Delete", Some("Delete this rule?"))}
            }
            .into_any()
        }
        Origin::File => view! { <span class="hint">"edit its file"</span> }.into_any(),
    }
}

pub fn list_body(ctx: &Ctx, rows: Vec<RuleRow>, notice: Option<String>, can_edit: bool) -> AnyView {
    let csrf = ctx.csrf.clone();
    let builtin_total = rows
        .iter()
        .filter(|r| matches!(r.origin, Origin::Builtin { .. }))
        .count();
    let builtin_on = rows
        .iter()
        .filter(|r| {
            matches!(
                r.origin,
                Origin::Builtin {
                    disabled: false,
                    ..
                }
            )
        })
        .count();
    let rows = rows
        .into_iter()
        .map(|r| {
            let row_class = if matches!(r.origin, Origin::Builtin { disabled: true, .. }) { "off" } else { "" };
            view! {
                <tr class=row_class>
                    <td>{state_badge(&r)}</td>
                    <td><b>{r.name.clone()}</b></td>
                    <td><code>{r.expr.clone()}</code>{r.error.clone().map(|e| view! { <div class="error">{e}</div> })}</td>
                    <td>{r.for_.clone()}</td>
                    <td>{r.severity.clone()}</td>
                    <td>{r.origin.describe()}</td>
                    <td class="actions-cell">{can_edit.then(|| actions(&r, &csrf))}</td>
                </tr>
            }
        })
        .collect_view();
    let summary = (builtin_total > 0).then(|| {
        view! {
            <p class="hint">{format!("{builtin_on} of {builtin_total} built-in rules are on. Built-in rules ship with dozor; edit or turn off any of them, and a rule you have not changed follows dozor's updates.")}</p>
        }
    });
    view! {
        {notice.map(|n| view! { <p class="notice">{n}</p> })}
        {can_edit.then(|| view! { <p><a class="button primary" href="/rules/new">"New rule"</a></p> })}
        {summary}
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

/// The field an error is about: errors start with the field's label
/// ("expr: …", "recovery threshold: …").
fn field_at_fault<'a>(error: &str, fields: &'a [Field]) -> Option<&'a str> {
    let head = error.split_once(':')?.0.trim().replace(' ', "_");
    fields.iter().map(|f| f.name).find(|n| *n == head)
}

fn presets_view(presets: Vec<Preset>, open: bool) -> AnyView {
    let cards = presets
        .into_iter()
        .map(|p| {
            view! {
                <form method="get" action="/rules/new" class="card preset">
                    <input type="hidden" name="preset" value=p.key/>
                    <strong>{p.title.clone()}</strong>
                    <label class="sentence">
                        {p.before}" "
                        <input name="param" value=p.default class="short" inputmode="decimal" aria-label=p.title/>
                        " "{p.after}
                    </label>
                    <button type="submit">"Use"</button>
                </form>
            }
        })
        .collect_view();
    view! {
        <details class="presets" open=open>
            <summary>"Start from a preset"</summary>
            <div class="cards">{cards}</div>
        </details>
    }
    .into_any()
}

pub fn editor_body(ctx: &Ctx, e: Editor) -> AnyView {
    let at_fault = e
        .error
        .as_deref()
        .and_then(|m| field_at_fault(m, &e.fields))
        .map(str::to_string);
    let general_error = e.error.clone().filter(|_| at_fault.is_none());
    let fixed_name = e.builtin.is_some();
    let field_view = |f: Field| {
        let has_error = at_fault.as_deref() == Some(f.name);
        let class = match (f.wide, has_error) {
            (true, true) => "field wide has-error",
            (true, false) => "field wide",
            (false, true) => "field has-error",
            (false, false) => "field",
        };
        let readonly = fixed_name && f.name == "name";
        let error = has_error.then(|| view! { <span class="field-error">{e.error.clone()}</span> });
        let control = if f.name == "expr" || f.name == "description" {
            view! { <textarea name=f.name placeholder=f.example rows="3">{f.value}</textarea> }
                .into_any()
        } else {
            view! { <input name=f.name value=f.value placeholder=f.example readonly=readonly/> }
                .into_any()
        };
        view! {
            <label class=class>
                <span class="label">{f.label}</span>
                {control}
                <small class="help">{f.help}</small>
                {error}
            </label>
        }
    };
    let mut groups: Vec<(&'static str, Vec<Field>)> = Vec::new();
    for f in e.fields.clone() {
        match groups.iter_mut().find(|(g, _)| *g == f.group) {
            Some((_, list)) => list.push(f),
            None => groups.push((f.group, vec![f])),
        }
    }
    let fieldsets = groups
        .into_iter()
        .map(|(legend, fields)| {
            let fields = fields.into_iter().map(field_view).collect_view();
            view! { <fieldset><legend>{legend}</legend><div class="fields">{fields}</div></fieldset> }
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
    let presets = (e.builtin.is_none() && !e.presets.is_empty())
        .then(|| presets_view(e.presets, e.original.is_empty()));
    let intro = e.builtin.clone().map(|name| {
        view! { <p class="hint">{format!("{name} is a built-in rule. Your changes are kept across restarts and upgrades; Reset on the Rules page goes back to the shipped rule.")}</p> }
    });
    let reset = (e.builtin.is_some() && e.builtin_edited).then(|| {
        view! { <button type="submit" formaction="/rules/builtin" name="action" value="reset" data-confirm="Go back to the shipped rule? Your edit is lost.">"Reset to shipped"</button> }
    });
    view! {
        {intro}
        {presets}
        {general_error.map(|m| view! { <p class="notice error">{m}</p> })}
        <form method="post" action="/rules/preview" class="form rule-editor">
            <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
            <input type="hidden" name="original" value=e.original/>
            {e.builtin.clone().map(|b| view! { <input type="hidden" name="builtin" value=b.clone()/> })}
            {fieldsets}
            <div class="actions">
                <button type="submit" class="primary" formaction="/rules/save">"Save"</button>
                <button type="submit">"Preview"</button>
                {reset}
                <a class="button" href="/rules">"Cancel"</a>
            </div>
        </form>
        {preview}
    }
    .into_any()
}
