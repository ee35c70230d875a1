//! Checks: probes of any URL or address run by the agents a user picks,
//! each with whether it is up now and its uptime over 24 h, 7 d and 30 d;
//! editors add and delete them (a private target needs an admin).

use crate::components::form::{csrf, error_for, general_error, notice, FormError};
use crate::components::shell::Ctx;
use dozor_common::checks::Check;
use leptos::prelude::*;

/// The windows of [`Row::uptime`], as PromQL ranges.
pub const UPTIME_WINDOWS: [&str; 3] = ["24h", "7d", "30d"];

#[derive(Debug, Clone)]
pub struct Row {
    pub check: Check,
    /// The share of its agents that found it up at the last probe.
    pub up_now: Option<f64>,
    pub uptime: [Option<f64>; 3],
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub rows: Vec<Row>,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<FormError>,
}

fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.3}%", v * 100.0),
        _ => "–".into(),
    }
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let rows = d
        .rows
        .iter()
        .map(|r| {
            let c = &r.check;
            let state = match r.up_now {
                Some(v) if v >= 1.0 => view! { <span class="badge ok">"up"</span> }.into_any(),
                Some(v) if v > 0.0 => view! { <span class="badge warn">"up from some"</span> }.into_any(),
                Some(_) => view! { <span class="badge bad">"down"</span> }.into_any(),
                None => view! { <span class="badge muted">"no data"</span> }.into_any(),
            };
            let delete = d.can_edit.then(|| {
                view! {
                    <form method="post" class="inline" action=format!("/checks/{}/delete", c.name)>
                        {csrf(&ctx.csrf)}
                        <button type="submit" class="danger" data-confirm=format!("Delete check {}?", c.name)>"Delete"</button>
                    </form>
                }
            });
            view! {
                <tr class=(r.up_now == Some(0.0)).then_some("problem")>
                    <td>{c.name.clone()}</td>
                    <td>{c.kind.as_str()}</td>
                    <td><code>{c.target.clone()}</code></td>
                    <td>{if c.agents.is_empty() { "all".to_string() } else { c.agents.join(", ") }}</td>
                    <td class="num">{format!("{} s", c.interval_s)}</td>
                    <td>{state}</td>
                    <td class="num">{percent(r.uptime[0])}</td>
                    <td class="num">{percent(r.uptime[1])}</td>
                    <td class="num">{percent(r.uptime[2])}</td>
                    <td>{delete}</td>
                </tr>
            }
        })
        .collect_view();
    let e = d.error.as_ref();
    let form = d.can_edit.then(|| {
        view! {
            <h3>"Add a check"</h3>
            <form method="post" action="/checks" class="form">
                {csrf(&ctx.csrf)}
                {general_error(e)}
                <label>"Name "<input type="text" name="name" required pattern="[a-z0-9-]{1,63}"/></label>
                {error_for(e, "name").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Kind "
                    <select name="kind">
                        <option value="http">"HTTP (up on 2xx)"</option>
                        <option value="tcp">"TCP connect"</option>
                        <option value="tls">"TLS handshake (chain, name, expiry)"</option>
                    </select>
                </label>
                <label>"Target "<input type="text" name="target" required placeholder="the URL to GET, or host:port"/></label>
                {error_for(e, "target").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Agents "<input type="text" name="agents" placeholder="all, or web-1, web-2"/></label>
                <label>"Every "<input type="number" name="interval_s" value="30" min="5"/>" s, timeout "
                    <input type="number" name="timeout_s" value="10" min="1"/>" s"</label>
                {error_for(e, "interval_s").or_else(|| error_for(e, "timeout_s")).map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Body must contain (HTTP) "<input type="text" name="body_match"/></label>
                <button type="submit" class="primary">"Add"</button>
            </form>
        }
    });
    let empty = d
        .rows
        .is_empty()
        .then(|| view! { <p class="hint">"No checks yet. Every service is already probed through its host's nginx; add checks for anything else."</p> });
    view! {
        {notice(d.notice.clone(), false)}
        <p class="hint">"Probes run by agents, reported under blackbox_exporter's names (probe_success, probe_duration_seconds, …) with the labels check and instance. A private target (loopback, 10/8, 172.16/12, 192.168/16, …) needs an admin: a probe is a request from inside a host's network."</p>
        {empty}
        <table class="data checks">
            <thead><tr><th>"Check"</th><th>"Kind"</th><th>"Target"</th><th>"Agents"</th><th>"Every"</th><th>"Now"</th><th>"24 h"</th><th>"7 d"</th><th>"30 d"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {form}
    }
    .into_any()
}
