//! One service: its facts, its traffic (the built-in `services` dashboard
//! with the service fixed), where its host's nginx stands, its upstream
//! members with why each is in or out, and the generated config exactly as
//! its agent renders it (read-only).

use super::Apply;
use crate::components::form::{csrf, notice};
use crate::components::shell::Ctx;
use crate::dashboards::Dashboard;
use crate::source::DataSource;
use dozor_common::services::members::Member;
use dozor_common::services::Service;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct Data {
    pub spec: Service,
    pub members: Vec<Member>,
    /// The host's whole generated include file.
    pub config: String,
    /// Why the renderer left this service out, if it did.
    pub skipped: Option<String>,
    pub apply: Apply,
    /// How the host's agent runs nginx, or why it does not.
    pub nginx: String,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub updated: String,
    /// The share of probes that succeeded over 24 h, 7 d and 30 d (None:
    /// no probe data in that window).
    pub uptime: [Option<f64>; 3],
}

/// The windows of [`Data::uptime`], as PromQL ranges.
pub const UPTIME_WINDOWS: [&str; 3] = ["24h", "7d", "30d"];

/// The navigation key of this page: under Services, and drawing data (so
/// with the range picker).
pub const ACTIVE: &str = "services/one";

pub async fn body(
    ctx: &Ctx,
    src: &dyn DataSource,
    d: Data,
    traffic: Option<&Dashboard>,
) -> AnyView {
    let charts = match traffic {
        Some(dash) => {
            let fixed = [("service".to_string(), d.spec.name.clone())];
            Some(crate::pages::dashboard::body(ctx, src, dash, &fixed).await)
        }
        None => None,
    };
    let s = &d.spec;
    let facts: Vec<(&str, String)> = vec![
        ("domains", s.domains.join(", ")),
        ("path", s.path.clone()),
        ("host", s.host.clone()),
        (
            "upstream",
            if s.static_upstreams.is_empty() {
                format!(
                    "containers labelled dozor.service={} on port {}",
                    s.name,
                    s.port
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "their dozor.port label".into())
                )
            } else {
                s.static_upstreams.join(", ")
            },
        ),
        ("balancing", s.lb.as_str().replace('_', " ")),
        ("websocket", if s.websocket { "on" } else { "off" }.into()),
        ("max body", s.max_body.clone()),
        (
            "timeouts",
            format!(
                "connect {} s, read {} s, send {} s",
                s.connect_timeout_s, s.read_timeout_s, s.send_timeout_s
            ),
        ),
        (
            "passive health",
            format!(
                "out after {} failure(s) for {} s",
                s.max_fails, s.fail_timeout_s
            ),
        ),
        (
            "headers",
            s.headers
                .iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (
            "error pages",
            if s.error_pages { "dozor's" } else { "nginx's" }.into(),
        ),
        (
            "HTTPS",
            format!(
                "{}{}",
                if s.https_redirect {
                    "HTTP redirects once a certificate is held"
                } else {
                    "HTTP also served"
                },
                if s.hsts { "; HSTS on" } else { "" }
            ),
        ),
        (
            "uptime",
            UPTIME_WINDOWS
                .iter()
                .zip(d.uptime)
                .map(|(w, u)| match u {
                    Some(u) => format!("{w} {:.3}%", u * 100.0),
                    None => format!("{w} –"),
                })
                .collect::<Vec<_>>()
                .join(" · "),
        ),
        ("nginx", d.nginx.clone()),
        ("changed", d.updated.clone()),
    ];
    let facts = facts
        .into_iter()
        .map(|(k, v)| view! { <tr><th>{k}</th><td>{v}</td></tr> })
        .collect_view();
    let members = d
        .members
        .iter()
        .map(|m| {
            let state = match &m.out {
                None => view! { <span class="badge ok">"in"</span> }.into_any(),
                Some(why) => {
                    view! { <span class="badge bad">"out"</span>" "{why.clone()} }.into_any()
                }
            };
            view! {
                <tr class=m.out.is_some().then_some("problem")>
                    <td>{m.container.clone().unwrap_or_else(|| "(static)".into())}</td>
                    <td><code>{m.address.clone()}</code></td>
                    <td>{state}</td>
                </tr>
            }
        })
        .collect_view();
    let no_members = d.members.is_empty().then(|| {
        view! { <p class="notice">"No member: nginx answers 503 (with the error page) until a labelled container runs."</p> }
    });
    let skipped = d
        .skipped
        .clone()
        .map(|w| view! { <p class="notice error">{format!("Left out of the config: {w}")}</p> });
    let failed = d
        .apply
        .failed
        .then(|| view! { <p class="notice error">{d.apply.text.clone()}</p> });
    let edit = d.can_edit.then(|| {
        let action = format!("/services/{}/delete", s.name);
        view! {
            <p class="actions">
                <a class="button" href=format!("/services/{}/edit", s.name)>"Edit"</a>" "
                <a class="button" href=format!("/error-pages?service={}", s.name)>"Error pages"</a>
            </p>
            <form method="post" class="inline" action=action>
                {csrf(&ctx.csrf)}
                <button type="submit" class="danger" data-confirm="Delete this service? Its host's nginx stops serving its domains.">"Delete"</button>
            </form>
        }
    });
    let scaling = view! {
        <p><a href=format!("/services/{}/scaling", s.name)>"Scaling: replicas, autoscale policy and its decisions →"</a></p>
    };
    view! {
        {notice(d.notice.clone(), false)}
        <h2>{s.name.clone()}" "{d.apply.badge()}{(!s.enabled).then(|| view! { " "<span class="badge muted">"disabled"</span> })}</h2>
        {failed}
        {skipped}
        {edit}
        {scaling}
        <table class="facts"><tbody>{facts}</tbody></table>
        <h3>"Traffic"</h3>
        <p class="hint">"From the access log dozor's config has nginx write; counted by the host's agent every interval."</p>
        {charts}
        <h3>"Upstream members"</h3>
        {no_members}
        <table class="data members">
            <thead><tr><th>"Container"</th><th>"Address"</th><th>"State"</th></tr></thead>
            <tbody>{members}</tbody>
        </table>
        <h3>"Generated nginx config"</h3>
        <p class="hint">{format!("What {}'s agent writes to its dozor.conf for all of the host's services, from the same desired state and the host's last container report. Read-only: edit the service instead.", s.host)}</p>
        <pre class="config">{d.config.clone()}</pre>
    }
    .into_any()
}
