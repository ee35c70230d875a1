//! Services: the list, one service's page (facts, upstream members, the
//! nginx config its agent applies), the create/edit form and the error
//! pages screen. Traffic figures (requests/s, 5xx ratio, p95) join the
//! list once the access log is followed.

pub mod detail;
pub mod error_pages;
pub mod form;

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
            view! {
                <tr class=problem.then_some("problem")>
                    <td><a href=href(&s.name)>{s.name.clone()}</a>{(!s.enabled).then(|| view! { " "<span class="badge muted">"disabled"</span> })}</td>
                    <td>{s.domains.join(" ")}</td>
                    <td><code>{s.path.clone()}</code></td>
                    <td><a href=format!("/hosts/{}", s.host)>{s.host.clone()}</a></td>
                    <td>{upstream}</td>
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
            <thead><tr><th>"Service"</th><th>"Domains"</th><th>"Path"</th><th>"Host"</th><th>"Upstream (live)"</th><th>"nginx"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
