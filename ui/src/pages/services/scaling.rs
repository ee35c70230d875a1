//! A service's scaling: its replicas now, the autoscale policy (editors
//! edit it, with a preview that replays the last 6 hours), setting the
//! replicas by hand, and every decision and action with its reason and
//! result.

use crate::components::form::{csrf, error_for, general_error, notice, FormError};
use crate::components::shell::Ctx;
use dozor_common::autoscale::{Metric, Policy};
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct Event {
    pub ts_ms: i64,
    pub kind: String,
    pub direction: String,
    pub from: u32,
    pub to: u32,
    pub value: Option<f64>,
    pub reason: String,
    pub dry_run: bool,
    pub actor: String,
    pub result: Option<String>,
}

/// Where the policy would have scaled over the replayed window.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// (time, from, to, value).
    pub scales: Vec<(i64, u32, u32, f64)>,
    /// The policy's number over the window, on its step grid.
    pub window: Window,
    pub points: Vec<(i64, f64)>,
    pub evaluations: usize,
    pub peak: u32,
    pub error: Option<String>,
}

/// A chart's time range and step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub service: String,
    pub stored: bool,
    /// The form's policy: stored, typed, or the defaults.
    pub draft: Policy,
    pub running: u32,
    /// The autoscaler's last evaluation: (time, value, decision).
    pub last: Option<(i64, Option<f64>, String)>,
    pub events: Vec<Event>,
    /// Running replicas over `window` (the autoscaler's series).
    pub window: Window,
    pub replicas: Vec<(i64, f64)>,
    pub preview: Option<Preview>,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<FormError>,
}

fn when(ms: i64) -> String {
    crate::chart::ticks::datetime(ms)
}

fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| "–".into())
}

fn events_table(events: &[Event]) -> AnyView {
    if events.is_empty() {
        return view! { <p class="hint">"No decisions yet."</p> }.into_any();
    }
    let rows = events
        .iter()
        .rev()
        .map(|e| {
            let result = match (&e.result, e.kind.as_str(), e.dry_run) {
                (_, "skip", _) => "skipped".to_string(),
                (_, _, true) => "dry run".to_string(),
                (Some(r), _, _) => r.clone(),
                (None, _, _) => "under way".to_string(),
            };
            let bad = e.result.as_deref().is_some_and(|r| r != "ok");
            view! {
                <tr class=bad.then_some("problem")>
                    <td>{when(e.ts_ms)}</td>
                    <td>{format!("{} {} → {}", e.direction, e.from, e.to)}</td>
                    <td class="num">{num(e.value)}</td>
                    <td>{e.reason.clone()}</td>
                    <td>{e.actor.clone()}</td>
                    <td>{result}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data scale-events">
            <thead><tr><th>"Time"</th><th>"Change"</th><th>"Value"</th><th>"Why"</th><th>"By"</th><th>"Result"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn chart(
    w: Window,
    name: &str,
    points: Vec<(i64, f64)>,
    thresholds: Vec<f64>,
    marks: Vec<(i64, String)>,
) -> AnyView {
    use crate::chart::svg::{render, Chart, Kind, Series};
    use crate::chart::units::Unit;
    let c = Chart {
        start: w.start,
        end: w.end,
        step: w.step.max(1),
        unit: Unit::Short,
        kind: Kind::Line,
        thresholds,
        y_max: None,
        bands: vec![],
        marks,
        width: 800.0,
        height: 200.0,
    };
    render(
        &c,
        &[Series {
            name: name.into(),
            points,
        }],
    )
}

/// The replica count with every scale (and dry run) marked over it.
fn timeline(d: &Data) -> AnyView {
    let marks = d
        .events
        .iter()
        .filter(|e| e.kind == "scale")
        .map(|e| {
            let what = if e.dry_run {
                "dry run".to_string()
            } else {
                e.result.clone().unwrap_or_else(|| "under way".into())
            };
            (
                e.ts_ms,
                format!(
                    "{}: {} {} → {} by {} ({}, {what})",
                    when(e.ts_ms),
                    e.direction,
                    e.from,
                    e.to,
                    e.actor,
                    e.reason
                ),
            )
        })
        .collect();
    chart(
        d.window,
        "running replicas",
        d.replicas.clone(),
        vec![],
        marks,
    )
}

fn preview_view(p: &Preview, policy: &Policy) -> AnyView {
    if let Some(e) = &p.error {
        return view! { <p class="notice error">{format!("Preview failed: {e}")}</p> }.into_any();
    }
    let rows = p
        .scales
        .iter()
        .map(|(t, from, to, v)| {
            view! { <tr><td>{when(*t)}</td><td>{format!("{from} → {to}")}</td><td class="num">{format!("{v:.2}")}</td></tr> }
        })
        .collect_view();
    let marks = p
        .scales
        .iter()
        .map(|(t, from, to, v)| (*t, format!("{}: {from} → {to} at {v:.2}", when(*t))))
        .collect();
    let thresholds = vec![policy.up.threshold, policy.down.threshold];
    let graph = chart(
        p.window,
        policy.metric.as_str(),
        p.points.clone(),
        thresholds,
        marks,
    );
    view! {
        <h3>"Preview: the last 6 hours replayed"</h3>
        {graph}
        <p class="hint">{format!(
            "{} evaluations; it would have scaled {} times, to {} replicas at most.",
            p.evaluations, p.scales.len(), p.peak
        )}</p>
        <table class="data"><thead><tr><th>"Time"</th><th>"Change"</th><th>"Value"</th></tr></thead><tbody>{rows}</tbody></table>
    }
    .into_any()
}

fn metric_options(chosen: Metric) -> impl IntoView {
    [
        (Metric::Cpu, "CPU, % of a core (average per replica)"),
        (Metric::Memory, "memory, % of the limit (average)"),
        (Metric::Rps, "requests per second per replica"),
        (Metric::P95, "p95 latency, seconds"),
        (Metric::Promql, "a PromQL expression ($service, $host)"),
    ]
    .into_iter()
    .map(|(m, label)| view! { <option value=m.as_str() selected=m == chosen>{label}</option> })
    .collect_view()
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let p = d.draft.clone();
    let e = d.error.as_ref();
    let last = d.last.as_ref().map(|(t, v, what)| {
        view! { <p>{format!("Last evaluation {}: value {}, {}", when(*t), num(*v), what)}</p> }
    });
    let n = |name: &'static str, v: String| view! { <input type="text" class="short" name=name value=v/> };
    let form = d.can_edit.then(|| {
        view! {
            <h3>"Policy"</h3>
            <form method="post" action=format!("/services/{}/scaling", d.service) class="form">
                {csrf(&ctx.csrf)}
                {general_error(e)}
                <label>"Replicas from "{n("min", p.min.to_string())}" to "{n("max", p.max.to_string())}</label>
                {error_for(e, "min").or_else(|| error_for(e, "max")).map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Watch "<select name="metric">{metric_options(p.metric)}</select>" over "{n("window_s", p.window_s.to_string())}" s"</label>
                <label>"PromQL "<input type="text" name="promql" value=p.promql.clone().unwrap_or_default()/></label>
                {error_for(e, "promql").or_else(|| error_for(e, "window_s")).map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Scale up above "{n("up_threshold", p.up.threshold.to_string())}" for "{n("up_for_s", p.up.for_s.to_string())}" s, by "{n("up_step", p.up.step.to_string())}", then wait "{n("up_cooldown_s", p.up.cooldown_s.to_string())}" s"</label>
                {error_for(e, "up").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Scale down below "{n("down_threshold", p.down.threshold.to_string())}" for "{n("down_for_s", p.down.for_s.to_string())}" s, by "{n("down_step", p.down.step.to_string())}", then wait "{n("down_cooldown_s", p.down.cooldown_s.to_string())}" s"</label>
                {error_for(e, "down").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Tolerance "{n("tolerance", p.tolerance.to_string())}" (a scale-down must leave the rest this far under the scale-up threshold)"</label>
                <label>"Drain "{n("drain_s", p.drain_s.to_string())}" s before a replica is removed"</label>
                <label>"Template container "<input type="text" name="template" value=p.template.clone().unwrap_or_default() placeholder="the oldest labelled one"/></label>
                {error_for(e, "template").map(|m| view! { <p class="field-error">{m}</p> })}
                <label class="check"><input type="checkbox" name="enabled" value="1" checked=p.enabled/>" Enabled"</label>
                <label class="check"><input type="checkbox" name="dry_run" value="1" checked=p.dry_run/>" Dry run (decide and record, change nothing)"</label>
                <div class="actions">
                    <button type="submit" name="do" value="preview">"Preview"</button>
                    <button type="submit" name="do" value="save" class="primary">"Save policy"</button>
                    {d.stored.then(|| view! { <button type="submit" name="do" value="delete" class="danger" data-confirm="Delete the policy? Replicas stay as they are.">"Delete policy"</button> })}
                </div>
            </form>
            <h3>"Set replicas by hand"</h3>
            <form method="post" action=format!("/services/{}/scale", d.service) class="form">
                {csrf(&ctx.csrf)}
                <label>"Replicas "<input type="number" name="replicas" min="1" max="100" value=d.running.to_string()/></label>
                <button type="submit">"Set"</button>
            </form>
        }
    });
    view! {
        {notice(d.notice.clone(), false)}
        <p><a href=format!("/services/{}", d.service)>{format!("← {}", d.service)}</a></p>
        <p>{format!("{} replica(s) running now.", d.running)}</p>
        {last}
        {d.preview.as_ref().map(|v| preview_view(v, &p))}
        {form}
        <h3>"Decisions and actions"</h3>
        {timeline(&d)}
        {events_table(&d.events)}
    }
    .into_any()
}
