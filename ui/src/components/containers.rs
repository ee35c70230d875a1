//! The containers table, on the host page and the fleet Containers page:
//! name, image, state, health, uptime, CPU, memory (and % of its limit),
//! network rate and restarts. Problem states sort first and are
//! highlighted. The script sorts by any column (each cell carries its raw
//! value) and filters by text; without it the table reads the same.

use crate::chart::{format, Unit};
use crate::source::ContainerRow;
use leptos::prelude::*;

/// `/containers/view?host=H&name=N`, both escaped.
pub fn href(host: &str, name: &str) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("host", host)
        .append_pair("name", name)
        .finish();
    format!("/containers/view?{q}")
}

/// "3d 4h", "5h 2m", "7m", "12s".
pub fn uptime(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

pub fn state_badge(state: &str, exit_code: Option<i64>) -> AnyView {
    let class = match state {
        "running" => "badge ok",
        "exited" if exit_code.unwrap_or(0) == 0 => "badge muted",
        "created" | "paused" => "badge muted",
        _ => "badge bad",
    };
    let text = match (state, exit_code) {
        ("exited", Some(c)) => format!("exited ({c})"),
        _ => state.to_string(),
    };
    view! { <span class=class>{text}</span> }.into_any()
}

fn num_cell(v: Option<f64>, text: String) -> AnyView {
    let raw = v.map(|v| v.to_string()).unwrap_or_else(|| "-1".into());
    view! { <td class="num" data-v=raw>{text}</td> }.into_any()
}

/// Rows sorted with problems first; `show_host` adds the host column.
pub fn table(mut rows: Vec<ContainerRow>, now_ms: i64, show_host: bool) -> AnyView {
    rows.sort_by(|a, b| {
        (!a.info.is_problem(), &a.host, &a.info.name).cmp(&(
            !b.info.is_problem(),
            &b.host,
            &b.info.name,
        ))
    });
    let problems = rows.iter().filter(|r| r.info.is_problem()).count();
    let running = rows.iter().filter(|r| r.info.state == "running").count();
    let summary = format!(
        "{} container(s), {running} running, {problems} with problems",
        rows.len()
    );
    let body = rows
        .into_iter()
        .map(|r| {
            let i = &r.info;
            let link = href(&r.host, &i.name);
            let host_cell = show_host.then(|| {
                let h = format!("/hosts/{}", urlencode_path(&r.host));
                view! { <td><a href=h>{r.host.clone()}</a></td> }
            });
            let up_ms = match (i.state.as_str(), i.started_ms) {
                ("running", Some(s)) => Some(now_ms.saturating_sub(s)),
                _ => None,
            };
            let mem_text = match (r.memory, i.memory_limit) {
                (Some(m), Some(l)) if l > 0 => format!(
                    "{} ({:.0}% of {})",
                    format(m, Unit::Bytes),
                    m / l as f64 * 100.0,
                    format(l as f64, Unit::Bytes)
                ),
                (Some(m), _) => format(m, Unit::Bytes),
                _ => String::new(),
            };
            let health = i.health.clone().unwrap_or_default();
            let health_class = match health.as_str() {
                "unhealthy" => "badge bad",
                "healthy" => "badge ok",
                "" => "",
                _ => "badge muted",
            };
            view! {
                <tr class=if i.is_problem() { "problem" } else { "" }>
                    <td data-v=i.name.clone()><a href=link>{i.name.clone()}</a></td>
                    {host_cell}
                    <td><code>{i.image.clone()}</code></td>
                    <td data-v=i.state.clone()>{state_badge(&i.state, i.exit_code)}</td>
                    <td data-v=health.clone()><span class=health_class>{health.clone()}</span></td>
                    {num_cell(up_ms.map(|u| u as f64), up_ms.map(uptime).unwrap_or_default())}
                    {num_cell(r.cpu, r.cpu.map(|c| format!("{:.1}%", c * 100.0)).unwrap_or_default())}
                    {num_cell(r.memory, mem_text)}
                    {num_cell(r.net, r.net.map(|n| format(n, Unit::BytesPerSec)).unwrap_or_default())}
                    {num_cell(Some(i.restart_count as f64), i.restart_count.to_string())}
                </tr>
            }
        })
        .collect_view();
    let host_head = show_host.then(|| view! { <th data-sort="text">"Host"</th> });
    view! {
        <section class="containers">
            <p>
                {summary} " "
                <input type="search" class="table-filter" data-table="containers-table" placeholder="Filter containers" aria-label="Filter containers"/>
            </p>
            <table class="data sortable" id="containers-table">
                <thead><tr>
                    <th data-sort="text">"Name"</th>{host_head}<th data-sort="text">"Image"</th>
                    <th data-sort="text">"State"</th><th data-sort="text">"Health"</th>
                    <th data-sort="num">"Uptime"</th><th data-sort="num">"CPU"</th>
                    <th data-sort="num">"Memory"</th><th data-sort="num">"Net"</th>
                    <th data-sort="num">"Restarts"</th>
                </tr></thead>
                <tbody>{body}</tbody>
            </table>
        </section>
    }
    .into_any()
}

/// Escapes a path segment (host names are plain, but nothing is assumed).
pub fn urlencode_path(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
