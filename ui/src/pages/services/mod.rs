//! Services: the list, one service's page (facts, upstream members, the
//! nginx config its agent applies), the create/edit form and the error
//! pages screen. The list shows each service's traffic over the last 5
//! minutes (requests/s, 5xx ratio, p95) from its access log metrics.

pub mod detail;
pub mod error_pages;
pub mod form;
pub mod scaling;

use crate::chart::{format, Unit};
use crate::components::form::notice;
use crate::components::shell::Ctx;
use dozor_common::services::Service;
use leptos::prelude::*;

/// Where a host stands with its desired state, in words.
#[derive(Debug, Clone, Default)]
pub struct Apply {
    pub text: String,
    pub failed: bool,
    pub pending: bool,
}

impl Apply {
    pub fn badge(&self) -> AnyView {
        let class = if self.failed {
            "badge bad"
        } else if self.pending {
            "badge muted"
        } else {
            "badge ok"
        };
        let label = if self.failed {
            "failed"
        } else if self.pending {
            "pending"
        } else {
            "applied"
        };
        view! { <span class=class title=self.text.clone()>{label}</span> }.into_any()
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub spec: Service,
    pub live: usize,
    pub total: usize,
    pub apply: Apply,
    pub traffic: Traffic,
}

/// A service's last 5 minutes; None where there is no data (no request
/// yet, or the agent does not follow the log).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    pub rps: Option<f64>,
    pub error_ratio: Option<f64>,
    pub p95_s: Option<f64>,
}

/// The instant queries behind [`Traffic`], each by service.
pub const TRAFFIC_QUERIES: [&str; 3] = [
    "sum by (service) (rate(dozor_http_requests_total[5m]))",
    r#"sum by (service) (rate(dozor_http_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(dozor_http_requests_total[5m]))"#,
    "histogram_quantile(0.95, sum by (service, le) (rate(dozor_http_request_duration_seconds_bucket[5m])))",
];

fn figure(v: Option<f64>, unit: Unit) -> String {
    match v {
        Some(v) if v.is_finite() => format(v, unit),
        _ => "–".into(),
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListData {
    pub rows: Vec<Row>,
    pub can_edit: bool,
    pub notice: Option<String>,
}

pub fn href(name: &str) -> String {
    format!("/services/{name}")
}

pub fn list(_ctx: &Ctx, d: ListData) -> AnyView {
    let new = d
        .can_edit
        .then(|| view! { <p><a class="button primary" href="/services/new">"New service"</a></p> });
    let empty = d.rows.is_empty().then(|| {
        view! {
            <p class="hint">"No services yet. A service tells one host's nginx to serve some domains from the containers labelled "<code>"dozor.service=NAME"</code>" (or from fixed addresses); its collector must run with "<code>"--nginx host"</code>" or "<code>"--nginx container:NAME"</code>"."</p>
        }
    });
    let rows = d
        .rows
        .into_iter()
        .map(|r| {
            let s = &r.spec;
            let upstream = if s.static_upstreams.is_empty() {
                format!("{} of {} container(s)", r.live, r.total)
            } else {
                format!("{} address(es)", s.static_upstreams.len())
            };
            let problem = r.apply.failed || (r.live == 0 && s.enabled);
            let t = r.traffic;
            let errors_high = t.error_ratio.is_some_and(|e| e > 0.05);
            view! {
                <tr class=problem.then_some("problem")>
                    <td><a href=href(&s.name)>{s.name.clone()}</a>{(!s.enabled).then(|| view! { " "<span class="badge muted">"disabled"</span> })}</td>
                    <td>{s.domains.join(" ")}</td>
                    <td><code>{s.path.clone()}</code></td>
                    <td><a href=format!("/hosts/{}", s.host)>{s.host.clone()}</a></td>
                    <td>{upstream}</td>
                    <td class="num">{figure(t.rps, Unit::Short)}</td>
                    <td class=if errors_high { "num bad" } else { "num" }>{figure(t.error_ratio, Unit::PercentUnit)}</td>
                    <td class="num">{figure(t.p95_s, Unit::Seconds)}</td>
                    <td>{r.apply.badge()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {notice(d.notice, false)}
        {new}
        {empty}
        <table class="data services">
            <thead><tr><th>"Service"</th><th>"Domains"</th><th>"Path"</th><th>"Host"</th><th>"Upstream (live)"</th><th>"Requests/s"</th><th>"5xx"</th><th>"p95"</th><th>"nginx"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
