//! Scrape targets across hosts (or one host): state, last scrape,
//! duration, samples and the last error, as each collector reported them.

use crate::chart::ticks::datetime;
use crate::components::form::{
    csrf, error_for, field, general_error, notice, wide_field, FormError,
};
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct TargetRow {
    pub host: String,
    pub job: String,
    pub url: String,
    pub up: bool,
    pub last_scrape_ms: i64,
    pub duration_ms: u64,
    pub samples: usize,
    pub error: Option<String>,
}

/// A target defined on the server.
#[derive(Debug, Clone)]
pub struct Defined {
    pub id: i64,
    pub host: String,
    pub job: String,
    pub url: String,
    pub interval: String,
    pub format: String,
    pub created_by: String,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub rows: Vec<TargetRow>,
    pub host: Option<String>,
    pub now_ms: i64,
    pub defined: Vec<Defined>,
    /// Agents a target can be added to.
    pub hosts: Vec<String>,
    pub is_admin: bool,
    pub notice: Option<String>,
    /// The add-target form as it was refused, if it was.
    pub draft: Draft,
}

/// What the add-target form holds.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub job: String,
    pub url: String,
    pub interval: String,
    pub format: String,
    pub error: Option<FormError>,
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let extra = defined(ctx, &d);
    let message = d.notice.clone();
    let failed = general_error(d.draft.error.as_ref());
    let list = reported(d.rows, d.host, d.now_ms);
    view! {
        {notice(message, false)}
        {failed}
        {list}
        {extra}
    }
    .into_any()
}

/// Targets defined on the server, and (admins) the form to add one.
fn defined(ctx: &Ctx, d: &Data) -> AnyView {
    let form_token = ctx.csrf.clone();
    let is_admin = d.is_admin;
    let rows = d
        .defined
        .iter()
        .cloned()
        .map(|t| {
            let del = is_admin.then(|| {
                let action = format!("/targets/{}/delete", t.id);
                view! {
                    <form method="post" class="inline" action=action>
                        {csrf(&form_token)}
                        <button type="submit" data-confirm="Stop scraping this target?">"Remove"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <td>{t.host}</td><td>{t.job}</td><td><code>{t.url}</code></td>
                    <td>{t.interval}</td><td>{t.format}</td><td>{t.created_by}</td><td>{del}</td>
                </tr>
            }
        })
        .collect_view();
    let hosts = d
        .hosts
        .iter()
        .cloned()
        .map(|h| {
            let selected = d.host.as_deref() == Some(h.as_str());
            let value = h.clone();
            view! { <option value=value selected=selected>{h}</option> }
        })
        .collect_view();
    let dr = &d.draft;
    let err = dr.error.as_ref();
    let formats = ["prometheus", "json"]
        .into_iter()
        .map(|f| view! { <option value=f selected=dr.format == f>{f}</option> })
        .collect_view();
    let form = is_admin.then(|| {
        view! {
            <form method="post" action="/targets" class="form add-target">
                {csrf(&ctx.csrf)}
                <fieldset>
                    <legend>"Add a target"</legend>
                    <div class="fields">
                        {field("Host", "The agent that scrapes it.", error_for(err, "host"), view! {
                            <select name="host" required>{hosts}</select>
                        })}
                        {field("Job", "Becomes the job label of its series.", error_for(err, "job"), view! {
                            <input name="job" value=dr.job.clone() placeholder="node" required/>
                        })}
                        {wide_field("URL", "A full http or https URL, as the host reaches it; node_exporter serves port 9100, path /metrics.", error_for(err, "url"), view! {
                            <input name="url" type="url" value=dr.url.clone() required/>
                        })}
                        {field("Interval", "How often; empty for the agent's default.", error_for(err, "interval"), view! {
                            <input name="interval" value=dr.interval.clone() placeholder="30s" class="short"/>
                        })}
                        {field("Format", "Prometheus text, or dozor's JSON.", error_for(err, "format"), view! {
                            <select name="format">{formats}</select>
                        })}
                    </div>
                    <div class="actions"><button type="submit" class="primary">"Add target"</button></div>
                </fieldset>
            </form>
        }
    });
    view! {
        <h2>"Defined on the server"</h2>
        <p class="hint">"Each host's collector receives these with its next heartbeat and scrapes them like its own."</p>
        {form}
        <table class="data">
            <thead><tr><th>"Host"</th><th>"Job"</th><th>"URL"</th><th>"Interval"</th><th>"Format"</th><th>"Added by"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn reported(rows: Vec<TargetRow>, host: Option<String>, now_ms: i64) -> AnyView {
    let down = rows.iter().filter(|r| !r.up).count();
    let summary = format!("{} target(s), {down} down", rows.len());
    let rows = rows
        .into_iter()
        .map(|r| {
            let state = if r.last_scrape_ms == 0 {
                view! { <span class="badge muted">"not yet"</span> }.into_any()
            } else if r.up {
                view! { <span class="badge ok">"up"</span> }.into_any()
            } else {
                view! { <span class="badge bad">"down"</span> }.into_any()
            };
            let ago = if r.last_scrape_ms == 0 {
                String::new()
            } else {
                format!(
                    "{}s ago ({} UTC)",
                    ((now_ms - r.last_scrape_ms) / 1000).max(0),
                    datetime(r.last_scrape_ms)
                )
            };
            let host_link = format!("/targets?host={}", r.host);
            view! {
                <tr class=if r.up { "" } else { "problem" }>
                    <td>{state}</td>
                    <td><a href=host_link>{r.host}</a></td>
                    <td>{r.job}</td>
                    <td><code>{r.url}</code></td>
                    <td>{ago}</td>
                    <td class="num">{format!("{} ms", r.duration_ms)}</td>
                    <td class="num">{r.samples}</td>
                    <td class="error">{r.error.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h2>"Reported by the collectors"</h2>
        <p>{summary}{host.map(|h| view! { " on "<b>{h}</b>" · "<a href="/targets">"all hosts"</a> })}</p>
        <table class="data targets">
            <thead><tr><th>"State"</th><th>"Host"</th><th>"Job"</th><th>"URL"</th><th>"Last scrape"</th><th>"Took"</th><th>"Samples"</th><th>"Last error"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
