//! Alerts: what is firing and pending now, and the history of every
//! transition, filterable by rule and change. Labels, values and
//! annotations are plain text (escaped like everything else).

use crate::chart::ticks::datetime;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct ActiveRow {
    /// `{k="v", …}` for a one-click silence.
    pub matchers: String,
    pub rule: String,
    pub state: String,
    pub severity: String,
    pub labels: Vec<(String, String)>,
    pub value: String,
    pub since_ms: i64,
    pub summary: String,
}

#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub ts_ms: i64,
    pub rule: String,
    pub change: String,
    pub severity: String,
    pub labels: Vec<(String, String)>,
    pub value: String,
}

fn labels_view(labels: Vec<(String, String)>) -> impl IntoView {
    labels
        .into_iter()
        .filter(|(k, _)| k != "alertname")
        .map(|(k, v)| view! { <span class="label">{k}"="{v}</span>" " })
        .collect_view()
}

fn badge(state: &str) -> &'static str {
    match state {
        "firing" => "badge bad",
        "pending" => "badge warn",
        "resolved" => "badge ok",
        _ => "badge muted",
    }
}

/// Everything the page shows.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub active: Vec<ActiveRow>,
    pub history: Vec<HistoryRow>,
    /// Alerting rule names, for the history filter.
    pub rules: Vec<String>,
    pub filter_rule: Option<String>,
    pub filter_change: Option<String>,
    /// False when no rules are loaded at all.
    pub configured: bool,
    /// Editors and admins get "Silence 1h" buttons.
    pub can_silence: bool,
}

pub fn body(ctx: &crate::components::shell::Ctx, d: Data) -> AnyView {
    let Data {
        active,
        history,
        rules,
        filter_rule,
        filter_change,
        configured,
        can_silence,
    } = d;
    let empty = active.is_empty();
    let active_rows = active
        .into_iter()
        .map(|a| {
            let silence = can_silence.then(|| {
                view! {
                    <form method="post" class="inline" action="/silences">
                        <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                        <input type="hidden" name="matchers" value=a.matchers.clone()/>
                        <input type="hidden" name="duration" value="1h"/>
                        <input type="hidden" name="comment" value="silenced from the Alerts page"/>
                        <button type="submit">"Silence 1h"</button>
                    </form>
                }
            });
            view! {
                <tr class=format!("state-{}", a.state)>
                    <td><span class=badge(&a.state)>{a.state.clone()}</span></td>
                    <td>{a.rule}</td>
                    <td>{a.severity}</td>
                    <td>{labels_view(a.labels)}</td>
                    <td class="num">{a.value}</td>
                    <td>{format!("{} UTC", datetime(a.since_ms))}</td>
                    <td>{a.summary}</td>
                    <td>{silence}</td>
                </tr>
            }
        })
        .collect_view();
    let history_rows = history
        .into_iter()
        .map(|h| {
            view! {
                <tr>
                    <td>{format!("{} UTC", datetime(h.ts_ms))}</td>
                    <td><span class=badge(&h.change)>{h.change.clone()}</span></td>
                    <td>{h.rule}</td>
                    <td>{h.severity}</td>
                    <td>{labels_view(h.labels)}</td>
                    <td class="num">{h.value}</td>
                </tr>
            }
        })
        .collect_view();
    let rule_options = rules
        .into_iter()
        .map(|r| {
            let selected = filter_rule.as_deref() == Some(r.as_str());
            view! { <option value=r.clone() selected=selected>{r.clone()}</option> }
        })
        .collect_view();
    let change_options = ["firing", "resolved", "pending", "cleared", "acknowledged"]
        .into_iter()
        .map(
            |c| view! { <option value=c selected=filter_change.as_deref() == Some(c)>{c}</option> },
        )
        .collect_view();
    let note = (!configured).then(|| {
        view! { <p class="notice">"No rules are loaded: start the server with --rules-dir pointing at Prometheus-format rule files."</p> }
    });
    view! {
        {note}
        <section>
            <h2>"Now"</h2>
            {empty.then(|| view! { <p class="muted">"Nothing is firing or pending."</p> })}
            <table class="data alerts">
                <thead><tr><th>"State"</th><th>"Rule"</th><th>"Severity"</th><th>"Labels"</th><th>"Value"</th><th>"Since"</th><th>"Summary"</th><th></th></tr></thead>
                <tbody>{active_rows}</tbody>
            </table>
        </section>
        <section>
            <h2>"History"</h2>
            <form method="get" action="/alerts" class="inline">
                <select name="rule"><option value="">"all rules"</option>{rule_options}</select>
                <select name="change"><option value="">"all changes"</option>{change_options}</select>
                <button type="submit">"Filter"</button>
            </form>
            <table class="data history">
                <thead><tr><th>"Time"</th><th>"Change"</th><th>"Rule"</th><th>"Severity"</th><th>"Labels"</th><th>"Value"</th></tr></thead>
                <tbody>{history_rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}
