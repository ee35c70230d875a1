//! One container: state and actions, facts, charts (CPU, memory against
//! its limit, network, block IO), the timeline of its events, and the
//! live log view (filled and followed by the script through
//! `/containers/logs`).

use crate::chart::ticks::datetime;
use crate::chart::{format, Unit};
use crate::components::containers::{href, state_badge, uptime};
use crate::components::shell::Ctx;
use crate::dashboards::Dashboard;
use crate::source::{ContainerRow, DataSource};
use leptos::prelude::*;

/// The charts, as a dashboard with both variables fixed by the page.
const CHARTS: &str = r#"
title = "Container"
[[variables]]
name = "host"
label = "host"
[[variables]]
name = "container"
label = "container"
[[rows]]
title = "Resources"
[[rows.panels]]
title = "CPU"
unit = "percentunit"
queries = [{ expr = 'sum(rate(container_cpu_usage_seconds_total{host="$host",container="$container"}[$__rate_interval]))', legend = "cores" }]
[[rows.panels]]
title = "Memory"
unit = "bytes"
queries = [
  { expr = 'sum(container_memory_working_set_bytes{host="$host",container="$container"})', legend = "working set" },
  { expr = 'sum(container_spec_memory_limit_bytes{host="$host",container="$container"} > 0)', legend = "limit" },
]
[[rows.panels]]
title = "Network"
unit = "bytes/s"
queries = [
  { expr = 'sum(rate(container_network_receive_bytes_total{host="$host",container="$container"}[$__rate_interval]))', legend = "rx" },
  { expr = 'sum(rate(container_network_transmit_bytes_total{host="$host",container="$container"}[$__rate_interval]))', legend = "tx" },
]
[[rows.panels]]
title = "Block IO"
unit = "bytes/s"
queries = [
  { expr = 'sum(rate(container_fs_reads_bytes_total{host="$host",container="$container"}[$__rate_interval]))', legend = "read" },
  { expr = 'sum(rate(container_fs_writes_bytes_total{host="$host",container="$container"}[$__rate_interval]))', legend = "write" },
]
"#;

pub fn charts() -> Dashboard {
    crate::dashboards::parse("container-page", CHARTS).expect("the built-in container charts parse")
}

#[derive(Debug, Clone)]
pub struct EventItem {
    pub ts_ms: i64,
    pub action: String,
    pub detail: Option<String>,
    /// "docker" or "inventory".
    pub source: String,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub host: String,
    pub name: String,
    pub row: Option<ContainerRow>,
    pub events: Vec<EventItem>,
    pub is_admin: bool,
    pub agent_online: bool,
    pub notice: Option<String>,
    /// An action waiting for the user to confirm it.
    pub confirm: Option<String>,
    /// The last lines when the page was made (what a browser without
    /// JavaScript shows, and where the live view starts), or why there
    /// are none; None while the agent is offline.
    pub recent_logs: Option<Result<dozor_common::containers::LogsOutput, String>>,
}

fn facts(r: &ContainerRow, now_ms: i64) -> AnyView {
    let i = &r.info;
    let t = |ms: Option<i64>| {
        ms.filter(|m| *m > 0)
            .map(|m| format!("{} UTC", datetime(m)))
    };
    let mut rows: Vec<(&str, Option<String>)> = vec![
        ("id", Some(i.id.chars().take(12).collect())),
        ("image", Some(i.image.clone())),
        ("command", Some(i.command.clone()).filter(|c| !c.is_empty())),
        ("created", t(Some(i.created_ms))),
        ("started", t(i.started_ms)),
        (
            "finished",
            t(i.finished_ms).filter(|_| i.state != "running"),
        ),
        (
            "uptime",
            i.started_ms
                .filter(|_| i.state == "running")
                .map(|s| uptime(now_ms.saturating_sub(s))),
        ),
        ("restarts", Some(i.restart_count.to_string())),
        ("exit code", i.exit_code.map(|c| c.to_string())),
        ("OOM killed", i.oom_killed.then(|| "yes".to_string())),
        ("compose project", i.compose_project.clone()),
        ("compose service", i.compose_service.clone()),
        (
            "memory limit",
            i.memory_limit.map(|m| format(m as f64, Unit::Bytes)),
        ),
        ("CPU limit", i.cpu_limit.map(|c| format!("{c} CPUs"))),
        ("CPU now", r.cpu.map(|c| format!("{:.1}%", c * 100.0))),
        ("memory now", r.memory.map(|m| format(m, Unit::Bytes))),
    ];
    for (k, list) in [
        ("ports", &i.ports),
        ("networks", &i.networks),
        ("mounts", &i.mounts),
    ] {
        rows.push((k, Some(list.join(", ")).filter(|s| !s.is_empty())));
    }
    let rows = rows
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| view! { <div><dt>{k}</dt><dd>{v}</dd></div> }))
        .collect_view();
    let labels = i
        .labels
        .iter()
        .map(|(k, v)| view! { <li><code>{k.clone()}</code>" = "<code>{v.clone()}</code></li> })
        .collect_view();
    view! {
        <dl class="facts">{rows}</dl>
        <details><summary>{format!("Labels ({})", i.labels.len())}</summary><ul class="labels">{labels}</ul></details>
    }
    .into_any()
}

fn actions(ctx: &Ctx, d: &Data) -> Option<AnyView> {
    if !d.is_admin {
        return None;
    }
    let form = |action: &'static str, label: &'static str| {
        view! {
            <form method="post" action="/containers/action" class="inline">
                <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                <input type="hidden" name="host" value=d.host.clone()/>
                <input type="hidden" name="name" value=d.name.clone()/>
                <input type="hidden" name="action" value=action/>
                <button type="submit">{label}</button>
            </form>
        }
    };
    if let Some(a) = &d.confirm {
        let verb = a.clone();
        let question = format!("{verb} {} on {}?", d.name, d.host);
        return Some(
            view! {
                <div class="notice confirm">
                    <p><b>{question}</b>" This interrupts whatever the container is doing."</p>
                    <form method="post" action="/containers/action" class="inline">
                        <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                        <input type="hidden" name="host" value=d.host.clone()/>
                        <input type="hidden" name="name" value=d.name.clone()/>
                        <input type="hidden" name="action" value=verb.clone()/>
                        <input type="hidden" name="confirm" value="yes"/>
                        <button type="submit" class="danger">{format!("Yes, {verb}")}</button>
                    </form>
                    " "<a href=href(&d.host, &d.name)>"Cancel"</a>
                </div>
            }
            .into_any(),
        );
    }
    // No button that cannot work: a container gone from the host's report,
    // an agent offline, or one whose policy refuses this container.
    let Some(row) = &d.row else {
        return Some(
            view! { <p class="muted">"No actions: the container is not in the host's latest report."</p> }
                .into_any(),
        );
    };
    if !d.agent_online {
        return None;
    }
    if let Some(why) = &row.info.actions_refused {
        return Some(
            view! { <p class="muted">{format!("No actions: the agent refuses them here: {why}.")}</p> }
                .into_any(),
        );
    }
    // Only what makes sense in the current state.
    let running = Some(row.info.state == "running");
    Some(
        view! {
            <div class="actions">
                {(running != Some(true)).then(|| form("start", "Start"))}
                {(running != Some(false)).then(|| form("stop", "Stop…"))}
                {form("restart", "Restart…")}
            </div>
        }
        .into_any(),
    )
}

fn timeline(events: &[EventItem]) -> AnyView {
    if events.is_empty() {
        return view! { <p class="muted">"No events recorded yet."</p> }.into_any();
    }
    let items = events
        .iter()
        .map(|e| {
            let bad = matches!(e.action.as_str(), "die" | "oom" | "kill" | "removed")
                || e.detail.as_deref().is_some_and(|d| d.contains("unhealthy"));
            view! {
                <li class=if bad { "bad" } else { "" }>
                    <time>{format!("{} UTC", datetime(e.ts_ms))}</time>" "
                    <b>{e.action.clone()}</b>" "{e.detail.clone().unwrap_or_default()}
                    <span class="muted">{format!(" ({})", e.source)}</span>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="timeline">{items}</ol> }.into_any()
}

fn log_view(d: &Data) -> AnyView {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("host", &d.host)
        .append_pair("name", &d.name)
        .finish();
    let src = format!("/containers/logs?{q}");
    let file = format!("{}-{}.log", d.host, d.name);
    let reload = format!("/containers/view?{q}#logs");
    let (lines, cursor, status) = match &d.recent_logs {
        None => (Vec::new(), None, None),
        Some(Ok(out)) => (
            out.lines.clone(),
            out.cursor.clone(),
            Some(format!(
                "The last {} lines when the page was made.",
                out.lines.len()
            )),
        ),
        Some(Err(e)) => (Vec::new(), None, Some(format!("No lines: {e}."))),
    };
    // The same markup the live view draws, with what it needs to adopt
    // these lines (their timestamps) instead of fetching them again.
    let lines = lines
        .into_iter()
        .map(|l| {
            let class = match &l.level {
                Some(level) => format!("{} lvl-{level}", l.stream),
                None => l.stream.clone(),
            };
            let shown = l.ts.replace('T', " ").chars().take(23).collect::<String>();
            view! { <li class=class data-stream=l.stream data-level=l.level data-ts=l.ts.clone()><time>{shown}</time><span>{l.text}</span></li> }
        })
        .collect_view();
    // Only a browser without JavaScript needs the words: the live view
    // says where it is in its own status line.
    let status = status.map(|s| {
        let reload = reload.clone();
        view! { <noscript><p class="notice">{s}" "<a href=reload>"Reload"</a>" for newer ones (following live needs JavaScript)."</p></noscript> }
    });
    view! {
        <section class="logs" id="logs" data-src=src data-file=file data-cursor=cursor>
            <div class="log-controls">
                <label><input type="checkbox" class="log-follow" checked/>" Follow"</label>
                <label><input type="checkbox" class="log-stdout" checked/>" stdout"</label>
                <label><input type="checkbox" class="log-stderr" checked/>" stderr"</label>
                <input type="search" class="log-filter" placeholder="Filter lines" aria-label="Filter lines"/>
                <label><input type="checkbox" class="log-regex"/>" regex"</label>
                <button type="button" class="log-download">"Download"</button>
                <span class="log-status" role="status"></span>
            </div>
            {status}
            <ol class="log-lines">{lines}</ol>
        </section>
    }
    .into_any()
}

pub async fn body(ctx: &Ctx, src: &dyn DataSource, d: Data) -> AnyView {
    let now = src.now_ms();
    let head = match &d.row {
        Some(r) => view! {
            <h2>
                {d.name.clone()}" "{state_badge(&r.info.state, r.info.exit_code)}
                {r.info.health.clone().map(|h| view! { " "<span class="badge muted">{h}</span> })}
                <span class="muted">" on "<a href=format!("/hosts/{}", crate::components::containers::urlencode_path(&d.host))>{d.host.clone()}</a></span>
            </h2>
        }
        .into_any(),
        None => view! {
            <h2>{d.name.clone()}" "<span class="muted">{format!("on {}", d.host)}</span></h2>
            <p class="notice">"This container is not in the host's latest report (removed, or not reported yet). History and charts remain."</p>
        }
        .into_any(),
    };
    let offline = (!d.agent_online).then(|| {
        view! { <p class="notice error">{format!("Agent {} is offline: logs and actions need it online.", d.host)}</p> }
    });
    let notice = d
        .notice
        .clone()
        .map(|n| view! { <p class="notice">{n}</p> });
    let fixed = [
        ("host".to_string(), d.host.clone()),
        ("container".to_string(), d.name.clone()),
    ];
    let charts = crate::pages::dashboard::body(ctx, src, &charts(), &fixed).await;
    view! {
        <section class="facts-panel container-page">
            {head}{notice}{offline}{actions(ctx, &d)}
            {d.row.as_ref().map(|r| facts(r, now))}
        </section>
        {charts}
        <h2>"Events"</h2>
        {timeline(&d.events)}
        <h2>"Logs"</h2>
        {log_view(&d)}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn charts_parse_with_both_variables() {
        let d = super::charts();
        let vars: Vec<_> = d.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(vars, ["host", "container"]);
        assert_eq!(d.rows[0].panels.len(), 4);
    }
}
