//! One host: its facts, its containers, then the built-in host dashboard.

use crate::chart::{format, ticks::datetime, Unit};
use crate::components::shell::Ctx;
use crate::dashboards::Dashboard;
use crate::source::{AgentInfo, DataSource};
use leptos::prelude::*;

fn facts(a: Option<&AgentInfo>) -> AnyView {
    let Some(a) = a else {
        return view! { <p class="notice">"No agent with this name; showing whatever series carry this host label."</p> }.into_any();
    };
    let state = if a.online { "badge ok" } else { "badge bad" };
    let mut rows: Vec<(String, String)> = a.facts.clone();
    if let Some(v) = &a.version {
        rows.push(("agent version".into(), v.clone()));
    }
    let rows = rows
        .into_iter()
        .map(|(k, v)| view! { <div><dt>{k}</dt><dd>{v}</dd></div> })
        .collect_view();
    view! {
        <section class="facts-panel">
            <h2>{a.name.clone()} " " <span class=state>{if a.online { "online" } else { "offline" }}</span></h2>
            <dl class="facts">{rows}</dl>
        </section>
    }
    .into_any()
}

/// Facts from a collector's inventory, in the order the page shows them.
pub fn inventory_facts(inv: &serde_json::Value) -> Vec<(String, String)> {
    let s = |k: &str| {
        inv.get(k)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let n = |k: &str| inv.get(k).and_then(|v| v.as_i64()).filter(|v| *v > 0);
    let mut out = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push((k.to_string(), v));
        }
    };
    push("hostname", s("hostname"));
    push("OS", s("os"));
    push("kernel", s("kernel"));
    push("CPU", s("cpu_model"));
    push("cores", n("cpu_cores").map(|c| c.to_string()));
    push(
        "memory",
        n("memory_bytes").map(|b| format(b as f64, Unit::Bytes)),
    );
    push(
        "boot time",
        n("boot_time").map(|t| format!("{} UTC", datetime(t * 1000))),
    );
    out
}

pub async fn body(ctx: &Ctx, src: &dyn DataSource, host: &str, d: Option<&Dashboard>) -> AnyView {
    let agents = src.agents().await.unwrap_or_default();
    let agent = agents.iter().find(|a| a.name == host);
    let containers = match src.containers(Some(host)).await {
        Ok(rows) if rows.is_empty() => None,
        Ok(rows) => Some(view! { <h2>"Containers"</h2>{crate::components::containers::table(rows, src.now_ms(), false)}}.into_any()),
        Err(e) => Some(view! { <p class="notice error">{format!("Cannot list containers: {e}")}</p> }.into_any()),
    };
    let dash = match d {
        Some(d) => {
            crate::pages::dashboard::body(ctx, src, d, &[("host".to_string(), host.to_string())]).await
        }
        None => view! { <p class="notice error">"The host dashboard failed to load; see the server log."</p> }.into_any(),
    };
    view! { {facts(agent)}{containers}{dash} }.into_any()
}
