//! Agents: who reports, in what state, and how to add a host. Every
//! change is a POST form carrying the CSRF token.

use crate::chart::ticks::datetime;
use crate::components::form::{csrf, error_for, field, general_error, notice, FormError};
use crate::components::shell::Ctx;
use crate::source::DataSource;
use leptos::prelude::*;

/// What a POST on this page produced, shown above the table.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// A fresh enrolment token, shown once.
    pub new_token: Option<String>,
    pub notice: Option<String>,
    pub error: Option<FormError>,
}

pub fn commands(base_url: &str, token: &str, version: &str) -> (String, String) {
    let docker = format!(
        "docker run -d --name dozor-collector --restart unless-stopped \\\n  -v /:/host:ro -v /var/run/docker.sock:/var/run/docker.sock \\\n  -v dozor-collector:/var/lib/dozor-collector \\\n  -e DOZOR_SERVER={base_url} -e DOZOR_ENROLL_TOKEN={token} \\\n  dozor-collector:{version}"
    );
    let binary = format!("DOZOR_ENROLL_TOKEN={token} dozor-collector --server {base_url}");
    (docker, binary)
}

pub async fn body(ctx: &Ctx, src: &dyn DataSource, outcome: Outcome) -> AnyView {
    // A failed read says so rather than showing an empty fleet.
    let (agents, failed) = match src.agents().await {
        Ok(a) => (a, None),
        Err(e) => (
            Vec::new(),
            Some(
                view! { <p class="notice error">{format!("Agents could not be read: {}", e.0)}</p> },
            ),
        ),
    };
    let form_token = ctx.csrf.clone();
    let rows = agents
        .iter()
        .map(|a| {
            let (badge, state) = match (a.revoked, a.online) {
                (true, _) => ("badge muted", "revoked"),
                (false, true) => ("badge ok", "online"),
                (false, false) => ("badge bad", "offline"),
            };
            let revoke = (!a.revoked).then(|| {
                let action = format!("/agents/{}/revoke", crate::pages::overview::urlencode(&a.name));
                let confirm = format!("Revoke {}? Its collector is refused from its next request.", a.name);
                view! {
                    <form method="post" class="inline" action=action data-confirm=confirm>
                        {csrf(&form_token)}
                        <button class="danger" type="submit">"Revoke"</button>
                    </form>
                }
            });
            let href = format!("/hosts/{}", crate::pages::overview::urlencode(&a.name));
            view! {
                <tr>
                    <td><a href=href>{a.name.clone()}</a></td>
                    <td><span class=badge>{state}</span></td>
                    <td>{a.version.clone().unwrap_or_default()}</td>
                    <td>{a.os.clone().unwrap_or_default()}</td>
                    <td>{a.last_seen_ms.map(|t| format!("{} UTC", datetime(t))).unwrap_or_else(|| "never".into())}</td>
                    <td>{format!("{} UTC", datetime(a.created_ms))}</td>
                    <td>{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    let fresh = outcome.new_token.map(|token| {
        let (docker, binary) = commands(&ctx.base_url, &token, &ctx.version);
        view! {
            <section class="add-host">
                <h2>"Install the collector"</h2>
                <p>"This enrolment token is shown once and works within the limits you set. Run one of these on the new host:"</p>
                <h3>"Docker"</h3>
                <pre class="cmd" id="cmd-docker">{docker}</pre>
                <button class="copy" type="button" data-copy="cmd-docker" hidden>"Copy"</button>
                <h3>"Binary"</h3>
                <pre class="cmd" id="cmd-binary">{binary}</pre>
                <button class="copy" type="button" data-copy="cmd-binary" hidden>"Copy"</button>
            </section>
        }
    });
    let err = outcome.error.as_ref();
    let storage = src
        .storage_problems()
        .await
        .into_iter()
        .map(|p| view! { <p class="notice error storage-problem">{p}</p> })
        .collect_view();
    view! {
        {storage}
        {failed}
        {notice(outcome.notice, false)}
        {general_error(err)}
        {fresh}
        <form method="post" action="/agents/enroll-token" class="form enrol">
            {csrf(&ctx.csrf)}
            <fieldset>
                <legend>"Add a host"</legend>
                <p>"Makes an enrolment token and shows the commands that install the collector with it."</p>
                <div class="fields">
                    {field("Valid for (hours)", "Empty for no limit.", error_for(err, "hours"), view! {
                        <input type="number" name="hours" min="1" max="1000000" value="24" class="short"/>
                    })}
                    {field("Uses", "How many hosts may enrol with it; empty for no limit.", error_for(err, "uses"), view! {
                        <input type="number" name="uses" min="1" max="1000000" value="1" class="short"/>
                    })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Add host"</button></div>
            </fieldset>
        </form>
        <div class="toolbar">
            <h2>"Agents"</h2>
            <form method="post" action="/agents/revoke-tokens" class="inline" data-confirm="Revoke every enrolment token? Enrolled agents keep working.">
                {csrf(&ctx.csrf)}
                <button class="danger" type="submit">"Revoke enrolment tokens"</button>
            </form>
        </div>
        <table class="data agents">
            <thead><tr><th>"Name"</th><th>"State"</th><th>"Version"</th><th>"OS"</th><th>"Last seen"</th><th>"Enrolled"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
