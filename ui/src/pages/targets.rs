//! Scrape targets across hosts (or one host): state, last scrape,
//! duration, samples and the last error, as each collector reported them.

use crate::chart::ticks::datetime;
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

pub fn body(_ctx: &Ctx, rows: Vec<TargetRow>, host: Option<String>, now_ms: i64) -> AnyView {
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
        <p>{summary}{host.map(|h| view! { " on "<b>{h}</b>" · "<a href="/targets">"all hosts"</a> })}</p>
        <table class="data targets">
            <thead><tr><th>"State"</th><th>"Host"</th><th>"Job"</th><th>"URL"</th><th>"Last scrape"</th><th>"Took"</th><th>"Samples"</th><th>"Last error"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
