//! Overview: one card per host with state, key figures and sparklines.
//! Five range queries grouped by host serve every card, so 200 hosts cost
//! the same number of queries as one.

use crate::chart::{format, ticks::choose_step, Unit};
use crate::components::shell::Ctx;
use crate::source::{AgentInfo, DataSource};
use leptos::prelude::*;
use std::collections::HashMap;

const METRICS: [(&str, &str, Unit); 5] = [
    ("CPU", "100 * (1 - avg by (host) (rate(node_cpu_seconds_total{mode=\"idle\"}[$ri])))", Unit::Percent),
    ("Memory", "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", Unit::Percent),
    ("Disk /", "100 * (1 - max by (host) (node_filesystem_avail_bytes{mountpoint=\"/\"} / node_filesystem_size_bytes{mountpoint=\"/\"}))", Unit::Percent),
    ("Load", "max by (host) (node_load1)", Unit::Short),
    ("Network", "sum by (host) (rate(node_network_receive_bytes_total{device!=\"lo\"}[$ri]) + rate(node_network_transmit_bytes_total{device!=\"lo\"}[$ri])) * 8", Unit::BitsPerSec),
];

/// Sparkline path in a 100×24 box.
pub fn spark(points: &[(i64, f64)], start: i64, end: i64) -> String {
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let t = (end - start).max(1) as f64;
    let mut d = String::new();
    for (i, (ts, v)) in points.iter().enumerate() {
        let x = (ts - start) as f64 / t * 100.0;
        let y = 22.0 - (v - lo) / span * 20.0;
        d.push_str(&format!("{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" }));
    }
    d
}

fn ago(now: i64, t: Option<i64>) -> String {
    let Some(t) = t else { return "never".into() };
    let s = ((now - t) / 1000).max(0);
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

type Figures = HashMap<String, Vec<(i64, f64)>>;

pub async fn body(
    ctx: &Ctx,
    src: &dyn DataSource,
    checklist: Option<super::getting_started::GettingStarted>,
) -> AnyView {
    let v = &ctx.view;
    let scrape = src.scrape_interval_ms();
    // About 60 points per sparkline.
    let step = choose_step((v.end_ms - v.start_ms) * 5, scrape);
    // The last step at or after the range's end, so the card's figure is
    // current (a step slightly ahead of now still sees the latest samples
    // through the lookback and rate windows), and steps stay on the grid
    // so refreshes reuse cached points.
    let end = (v.end_ms + step - 1).div_euclid(step) * step;
    let start = end - (end - v.start_ms) / step * step;
    let ri = format!("{}ms", (step + scrape).max(4 * scrape));
    let mut figures: Vec<Figures> = Vec::new();
    let mut errors = Vec::new();
    let queries = METRICS.iter().map(|(_, q, _)| {
        let q = q.replace("$ri", &ri);
        async move { src.query_range(&q, start, end, step).await }
    });
    for r in futures_util::future::join_all(queries).await {
        let mut m = Figures::new();
        match r {
            Ok(series) => {
                for s in series {
                    if let Some(h) = s.labels.get("host") {
                        m.insert(h.clone(), s.points);
                    }
                }
            }
            Err(e) => errors.push(e.0),
        }
        figures.push(m);
    }
    let mut agents: Vec<AgentInfo> = src.agents().await.unwrap_or_default();
    agents.retain(|a| !a.revoked);
    let filter = v.param("q").unwrap_or("").to_lowercase();
    agents.retain(|a| a.name.to_lowercase().contains(&filter));
    let sort = v.param("sort").unwrap_or("name");
    let last = |i: usize, host: &str| {
        figures
            .get(i)
            .and_then(|m| m.get(host)?.last().map(|p| p.1))
    };
    let key = |a: &AgentInfo| match sort {
        "cpu" => last(0, &a.name),
        "memory" => last(1, &a.name),
        "disk" => last(2, &a.name),
        _ => None,
    };
    if sort == "name" {
        agents.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        agents.sort_by(|a, b| {
            key(b)
                .partial_cmp(&key(a))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    // Offline hosts first: they are what needs attention.
    agents.sort_by_key(|a| a.online);
    let now = src.now_ms();
    let cards = agents
        .iter()
        .map(|a| {
            let state = if a.online { "online" } else { "offline" };
            let metrics = METRICS
                .iter()
                .enumerate()
                .map(|(i, (label, _, unit))| {
                    let pts = figures.get(i).and_then(|m| m.get(&a.name)).cloned().unwrap_or_default();
                    let value = pts.last().map(|p| format(p.1, *unit)).unwrap_or_else(|| "–".into());
                    let d = spark(&pts, start, end);
                    view! { <div><dt>{*label}</dt><dd>{value}</dd><svg class="spark" viewBox="0 0 100 24" preserveAspectRatio="none"><path d=d></path></svg></div> }
                })
                .collect_view();
            let facts = [a.os.clone(), a.kernel.clone(), a.facts.iter().find(|f| f.0 == "uptime").map(|f| format!("up {}", f.1))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            let href = format!("/hosts/{}?{}", urlencode(&a.name), v.query_with(&[], false));
            view! {
                <a class=format!("host-card {state}") data-name=a.name.clone() href=href>
                    <header><span class="state">{state}</span><strong>{a.name.clone()}</strong><span class="seen">{ago(now, a.last_seen_ms)}</span></header>
                    <dl class="metrics">{metrics}</dl>
                    <p class="facts">{facts}</p>
                </a>
            }
        })
        .collect_view();
    let sorts = ["name", "cpu", "memory", "disk"]
        .into_iter()
        .map(|s| {
            let href = format!("/?{}", v.query_with(&[("sort", s)], true));
            let class = if s == sort { "active" } else { "" };
            view! { <a href=href class=class>{s}</a> }
        })
        .collect_view();
    let empty = agents.is_empty().then(|| view! { <p class="notice">"No hosts yet. Add one on the " <a href="/agents">"Agents"</a> " page."</p> });
    let errors = errors
        .into_iter()
        .map(|e| view! { <p class="notice error">{e}</p> })
        .collect_view();
    let checklist = checklist.map(|g| super::getting_started::panel(ctx, g));
    view! {
        {checklist}
        <div class="toolbar">
            <form method="get" class="inline">
                <input class="host-filter" type="search" name="q" placeholder="Filter hosts" value=v.param("q").unwrap_or("").to_string()/>
            </form>
            <span class="sorts">"Sort: " {sorts}</span>
        </div>
        {errors}
        {empty}
        <div class="hosts">{cards}</div>
    }
    .into_any()
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
