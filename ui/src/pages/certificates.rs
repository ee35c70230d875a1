//! Certificates: every service's certificate with its domains, host,
//! issuer, days left (red under 14), state and last error; editors issue,
//! renew now, revoke and upload; admins set the fleet's ACME account.

use crate::components::form::{csrf, error_for, general_error, notice, FormError};
use crate::components::shell::Ctx;
use dozor_common::certs::{Acme, Report, Source, State, LETS_ENCRYPT, LETS_ENCRYPT_STAGING};
use leptos::prelude::*;

/// Days left under this are shown as a problem.
pub const WARN_DAYS: i64 = 14;

#[derive(Debug, Clone)]
pub struct Row {
    pub service: String,
    pub host: String,
    pub domains: Vec<String>,
    pub source: Source,
    pub revoked: bool,
    pub report: Option<Report>,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub rows: Vec<Row>,
    /// Every service, for the issue and upload forms.
    pub services: Vec<String>,
    pub acme: Option<Acme>,
    pub can_edit: bool,
    pub is_admin: bool,
    /// Unix seconds, for days left.
    pub now_s: i64,
    pub notice: Option<String>,
    pub error: Option<FormError>,
}

fn state(r: &Row) -> AnyView {
    let Some(rep) = &r.report else {
        return view! { <span class="badge muted">"waiting for the host"</span> }.into_any();
    };
    let (class, text) = match rep.state {
        State::Active => ("ok", "active"),
        State::Issuing => ("warn", "issuing"),
        State::Failed if rep.rate_limited => ("bad", "failed: rate limited by the CA"),
        State::Failed => ("bad", "failed"),
        State::Revoked => ("muted", "revoked"),
        State::None => ("muted", "none"),
    };
    view! { <span class=format!("badge {class}")>{text}</span> }.into_any()
}

fn date(t: Option<i64>) -> String {
    t.map(|s| crate::chart::ticks::datetime(s * 1000))
        .unwrap_or_else(|| "–".into())
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let rows = d
        .rows
        .iter()
        .map(|r| {
            let rep = r.report.as_ref();
            let days = rep
                .and_then(|p| p.not_after)
                .map(|na| (na - d.now_s).div_euclid(86_400));
            let short = days.is_some_and(|n| n < WARN_DAYS);
            let actions = d.can_edit.then(|| {
                let renew = (r.source == Source::Acme && !r.revoked).then(|| {
                    view! {
                        <form method="post" class="inline" action=format!("/certificates/{}/renew", r.service)>
                            {csrf(&ctx.csrf)}
                            <button type="submit">"Renew now"</button>
                        </form>
                    }
                });
                let revoke = (!r.revoked).then(|| {
                    view! {
                        <form method="post" class="inline" action=format!("/certificates/{}/revoke", r.service)>
                            {csrf(&ctx.csrf)}
                            <button type="submit" class="danger" data-confirm=format!("Revoke the certificate of {}? The service goes back to plain HTTP.", r.service)>"Revoke"</button>
                        </form>
                    }
                });
                view! { {renew}{revoke} }
            });
            let error = rep.and_then(|p| p.error.clone()).map(|e| view! { <div class="field-error">{e}</div> });
            view! {
                <tr class=(short || rep.is_some_and(|p| p.state == State::Failed)).then_some("problem")>
                    <td><a href=format!("/services/{}", r.service)>{r.service.clone()}</a></td>
                    <td>{r.domains.join(", ")}</td>
                    <td>{r.host.clone()}</td>
                    <td>{r.source.as_str()}</td>
                    <td>{rep.map(|p| p.issuer.clone()).unwrap_or_default()}</td>
                    <td class=if short { "num bad" } else { "num" }>{days.map(|n| n.to_string()).unwrap_or_else(|| "–".into())}</td>
                    <td>{state(r)}{error}</td>
                    <td>{date(rep.and_then(|p| p.last_attempt))}</td>
                    <td>{date(rep.and_then(|p| p.next_renewal))}</td>
                    <td>{actions}</td>
                </tr>
            }
        })
        .collect_view();
    let e = d.error.as_ref();
    let options = || {
        d.services
            .iter()
            .map(|s| view! { <option value=s.clone()>{s.clone()}</option> })
            .collect_view()
    };
    let forms = d.can_edit.then(|| {
        view! {
            <h3>"Issue a certificate"</h3>
            <p class="hint">"The service's host proves its domains over ACME http-01 (its nginx answers the CA's challenge) and switches the service to HTTPS. Renewed by itself when a third of the lifetime is left."</p>
            <form method="post" action="/certificates/issue" class="form">
                {csrf(&ctx.csrf)}
                <label>"Service "<select name="service">{options()}</select></label>
                <button type="submit" class="primary">"Issue"</button>
            </form>
            <h3>"Upload a certificate"</h3>
            <p class="hint">"For a wildcard or one issued elsewhere: the chain (leaf first) and its key, in PEM. They must match, be valid now and cover every domain of the service; the key goes to that service's host only and is not kept by the server."</p>
            <form method="post" action="/certificates/upload" class="form">
                {csrf(&ctx.csrf)}
                {general_error(e)}
                <label>"Service "<select name="service">{options()}</select></label>
                <label>"Certificate chain "<textarea name="certificate" rows="6" placeholder="-----BEGIN CERTIFICATE-----"></textarea></label>
                {error_for(e, "certificate").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Private key "<textarea name="key" rows="4" placeholder="-----BEGIN PRIVATE KEY-----"></textarea></label>
                <button type="submit" class="primary">"Upload"</button>
            </form>
        }
    });
    let acme = d.acme.clone().unwrap_or_default();
    let account = if d.is_admin {
        let preset = |url: &'static str, label: &'static str| {
            view! { <option value=url selected=acme.directory == url>{label}</option> }
        };
        let preset_url =
            [LETS_ENCRYPT, LETS_ENCRYPT_STAGING, ""].contains(&acme.directory.as_str());
        let other = if preset_url {
            String::new()
        } else {
            acme.directory.clone()
        };
        view! {
            <h3>"ACME account"</h3>
            <form method="post" action="/certificates/acme" class="form">
                {csrf(&ctx.csrf)}
                <label>"CA "<select name="preset">
                    {preset(LETS_ENCRYPT, "Let's Encrypt")}
                    {preset(LETS_ENCRYPT_STAGING, "Let's Encrypt staging (untrusted certificates, generous limits)")}
                    <option value="other" selected=!other.is_empty()>"Another CA (directory URL below)"</option>
                </select></label>
                <label>"Directory URL "<input type="text" name="directory" value=other placeholder="https://ca.example.net/acme/directory"/></label>
                {error_for(e, "directory").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"E-mail "<input type="email" name="email" value=acme.email.clone()/></label>
                {error_for(e, "email").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Extra CA root (private CAs) "<textarea name="extra_ca" rows="3">{acme.extra_ca_pem.clone().unwrap_or_default()}</textarea></label>
                {error_for(e, "extra_ca").map(|m| view! { <p class="field-error">{m}</p> })}
                <button type="submit" class="primary">"Save account"</button>
            </form>
        }
        .into_any()
    } else {
        let shown = if acme.directory.is_empty() {
            "not set yet (an admin sets it)".to_string()
        } else {
            acme.directory.clone()
        };
        view! { <p class="hint">"ACME directory: "<code>{shown}</code></p> }.into_any()
    };
    let empty = d
        .rows
        .is_empty()
        .then(|| view! { <p class="hint">"No certificates yet: services are served over HTTP until one is issued or uploaded."</p> });
    view! {
        {notice(d.notice.clone(), false)}
        {empty}
        <table class="data certificates">
            <thead><tr><th>"Service"</th><th>"Domains"</th><th>"Host"</th><th>"Source"</th><th>"Issuer"</th><th>"Days left"</th><th>"Status"</th><th>"Last attempt"</th><th>"Next renewal"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {forms}
        {account}
    }
    .into_any()
}
