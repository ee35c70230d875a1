//! Creating and editing a service (editors and admins), with each refusal
//! next to its field.

use crate::components::form::{csrf, error_for, field, general_error, wide_field, FormError};
use crate::components::shell::Ctx;
use dozor_common::services::{Balance, Service};
use leptos::prelude::*;

/// The form's fields as text, as typed or as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub name: String,
    pub host: String,
    /// One per line (or separated by spaces).
    pub domains: String,
    pub path: String,
    pub port: String,
    pub static_upstreams: String,
    pub lb: String,
    pub websocket: bool,
    pub max_body: String,
    pub connect_timeout_s: String,
    pub read_timeout_s: String,
    pub send_timeout_s: String,
    pub max_fails: String,
    pub fail_timeout_s: String,
    /// `Name: value`, one per line.
    pub headers: String,
    pub enabled: bool,
    pub error_pages: bool,
    pub https_redirect: bool,
    pub hsts: bool,
}

impl Default for Draft {
    fn default() -> Self {
        Self::from_service(&Service::default())
    }
}

impl Draft {
    pub fn from_service(s: &Service) -> Self {
        Self {
            name: s.name.clone(),
            host: s.host.clone(),
            domains: s.domains.join("\n"),
            path: s.path.clone(),
            port: s.port.map(|p| p.to_string()).unwrap_or_default(),
            static_upstreams: s.static_upstreams.join("\n"),
            lb: s.lb.as_str().into(),
            websocket: s.websocket,
            max_body: s.max_body.clone(),
            connect_timeout_s: s.connect_timeout_s.to_string(),
            read_timeout_s: s.read_timeout_s.to_string(),
            send_timeout_s: s.send_timeout_s.to_string(),
            max_fails: s.max_fails.to_string(),
            fail_timeout_s: s.fail_timeout_s.to_string(),
            headers: s
                .headers
                .iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            enabled: s.enabled,
            error_pages: s.error_pages,
            https_redirect: s.https_redirect,
            hsts: s.hsts,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub draft: Draft,
    /// Agents a service can be put on.
    pub hosts: Vec<String>,
    /// Editing an existing service (its name is fixed).
    pub editing: bool,
    pub error: Option<FormError>,
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let dr = d.draft;
    let err = d.error.as_ref();
    let action = if d.editing {
        format!("/services/{}/edit", dr.name)
    } else {
        "/services/new".to_string()
    };
    let hosts = d
        .hosts
        .iter()
        .map(|h| {
            let selected = *h == dr.host;
            view! { <option value=h.clone() selected=selected>{h.clone()}</option> }
        })
        .collect_view();
    let lbs = [Balance::RoundRobin, Balance::LeastConn, Balance::IpHash]
        .into_iter()
        .map(|b| {
            let v = b.as_str();
            view! { <option value=v selected=dr.lb == v>{v.replace('_', " ")}</option> }
        })
        .collect_view();
    let num = |name: &'static str, value: &str| {
        view! { <input name=name value=value.to_string() inputmode="numeric" class="short"/> }
    };
    view! {
        {general_error(err)}
        <form method="post" action=action class="form service-form">
            {csrf(&ctx.csrf)}
            <fieldset>
                <legend>{if d.editing { "Edit service" } else { "New service" }}</legend>
                <div class="fields">
                    {field("Name", "Lower-case letters, digits and '-'; containers join it with the label dozor.service=NAME.", error_for(err, "name"), view! {
                        <input name="name" value=dr.name.clone() required readonly=d.editing pattern="[a-z0-9][a-z0-9-]{0,62}"/>
                    })}
                    {field("Host", "The agent whose nginx serves it.", error_for(err, "host"), view! {
                        <select name="host" required>{hosts}</select>
                    })}
                    {wide_field("Domains", "One per line, e.g. app.example.com or *.example.com.", error_for(err, "domains"), view! {
                        <textarea name="domains" rows="3" required>{dr.domains.clone()}</textarea>
                    })}
                    {field("Path", "The prefix it answers under.", error_for(err, "path"), view! {
                        <input name="path" value=dr.path.clone()/>
                    })}
                    {field("Container port", "Where the containers listen (or each one's dozor.port label).", error_for(err, "port"), num("port", &dr.port))}
                    {wide_field("Static addresses", "host:port per line, for backends outside Docker; when set, containers are not used.", error_for(err, "static_upstreams"), view! {
                        <textarea name="static_upstreams" rows="2">{dr.static_upstreams.clone()}</textarea>
                    })}
                    {field("Balancing", "How requests spread over the members.", error_for(err, "lb"), view! {
                        <select name="lb">{lbs}</select>
                    })}
                    {field("Max body", "Largest request body, e.g. 10m; 0 for no limit.", error_for(err, "max_body"), view! {
                        <input name="max_body" value=dr.max_body.clone() class="short"/>
                    })}
                    {field("Connect timeout (s)", "", error_for(err, "connect_timeout_s"), num("connect_timeout_s", &dr.connect_timeout_s))}
                    {field("Read timeout (s)", "", error_for(err, "read_timeout_s"), num("read_timeout_s", &dr.read_timeout_s))}
                    {field("Send timeout (s)", "", error_for(err, "send_timeout_s"), num("send_timeout_s", &dr.send_timeout_s))}
                    {field("Max fails", "Failures before a member is left out for the fail timeout; 0 never.", error_for(err, "max_fails"), num("max_fails", &dr.max_fails))}
                    {field("Fail timeout (s)", "", error_for(err, "fail_timeout_s"), num("fail_timeout_s", &dr.fail_timeout_s))}
                    {wide_field("Response headers", "Name: value per line, e.g. X-Frame-Options: DENY.", error_for(err, "headers"), view! {
                        <textarea name="headers" rows="2">{dr.headers.clone()}</textarea>
                    })}
                    <label class="check"><input type="checkbox" name="websocket" value="1" checked=dr.websocket/>" WebSocket upgrade"</label>
                    <label class="check"><input type="checkbox" name="error_pages" value="1" checked=dr.error_pages/>" dozor's error pages"</label>
                    <label class="check" title="Once a certificate covers a domain; the ACME challenge path stays on HTTP."><input type="checkbox" name="https_redirect" value="1" checked=dr.https_redirect/>" Redirect HTTP to HTTPS"</label>
                    <label class="check" title="Browsers then refuse plain HTTP to these domains for a year."><input type="checkbox" name="hsts" value="1" checked=dr.hsts/>" HSTS"</label>
                    <label class="check"><input type="checkbox" name="enabled" value="1" checked=dr.enabled/>" Enabled"</label>
                </div>
                <div class="actions"><button type="submit" class="primary">{if d.editing { "Save" } else { "Create service" }}</button></div>
            </fieldset>
        </form>
    }
    .into_any()
}
