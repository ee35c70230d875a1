//! The signed-in user's own page: change password, and API tokens for
//! scripts, Grafana and remote_write. A new token is shown once, here,
//! right after it is made; afterwards only its name and times are.

use crate::chart::ticks::datetime;
use crate::components::form::{csrf, error_for, field, general_error, notice, FormError};
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub scope: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked: bool,
    pub expired: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub notice: Option<String>,
    /// A fresh token, shown once.
    pub new_token: Option<String>,
    pub error: Option<FormError>,
    /// What the token form held when it was refused: name, scope, days.
    pub draft: Option<(String, String, String)>,
}

fn when(ms: Option<i64>, none: &'static str) -> String {
    ms.map(|m| format!("{} UTC", datetime(m)))
        .unwrap_or_else(|| none.to_string())
}

/// `scopes`: what this user may grant (up to their role). `show_owner`:
/// admins see everyone's tokens.
pub fn body(
    ctx: &Ctx,
    outcome: Outcome,
    tokens: Vec<TokenRow>,
    scopes: &[&'static str],
    show_owner: bool,
) -> AnyView {
    let form_token = ctx.csrf.clone();
    let base = ctx.base_url.clone();
    let rows = tokens
        .into_iter()
        .map(|t| {
            let state = if t.revoked {
                view! { <span class="badge muted">"revoked"</span> }
            } else if t.expired {
                view! { <span class="badge muted">"expired"</span> }
            } else {
                view! { <span class="badge ok">"active"</span> }
            };
            let revoke = (!t.revoked && !t.expired).then(|| {
                let action = format!("/account/tokens/{}/revoke", t.id);
                let confirm = format!(
                    "Revoke the token {}? Anything using it is refused at once.",
                    t.name
                );
                view! {
                    <form method="post" class="inline" action=action data-confirm=confirm>
                        {csrf(&form_token)}
                        <button class="danger" type="submit">"Revoke"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    {show_owner.then(|| view! { <td>{t.owner.clone()}</td> })}
                    <td>{t.name.clone()}</td>
                    <td>{t.scope.clone()}</td>
                    <td>{state}</td>
                    <td>{when(Some(t.created_ms), "")}</td>
                    <td>{when(t.expires_ms, "never")}</td>
                    <td>{when(t.last_used_ms, "never")}</td>
                    <td>{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    let fresh = outcome.new_token.map(|token| {
        let grafana = format!("Grafana: Prometheus data source URL {base}/prometheus, Basic auth with any user and this token as password.");
        let curl = format!("curl -H 'Authorization: Bearer {token}' '{base}/prometheus/api/v1/query?query=up'");
        view! {
            <section class="fresh">
                <h2>"Your new token"</h2>
                <p>"Copy it now: dozor keeps only its hash and cannot show it again."</p>
                <pre class="cmd" id="new-api-token">{token}</pre>
                <button class="copy" type="button" data-copy="new-api-token" hidden>"Copy"</button>
                <p>{grafana}</p>
                <pre class="cmd">{curl}</pre>
            </section>
        }
    });
    let err = outcome.error.as_ref();
    let (name, scope, days) = outcome
        .draft
        .clone()
        .unwrap_or_else(|| (String::new(), String::new(), "90".into()));
    let options = scopes
        .iter()
        .map(|s| view! { <option value=*s selected=scope == *s>{*s}</option> })
        .collect_view();
    let new_password_help =
        "At least 12 characters and not a common one. Changing it signs out your other sessions.";
    let scope_help = "read queries the APIs; write also accepts remote_write; admin does everything your role allows.";
    view! {
        {notice(outcome.notice, false)}
        {general_error(err)}
        {fresh}
        <form method="post" action="/account/password" class="form password">
            {csrf(&ctx.csrf)}
            <fieldset>
                <legend>"Change password"</legend>
                <div class="fields">
                    {field("Current password", "", error_for(err, "current"), view! {
                        <input type="password" name="current" autocomplete="current-password" required/>
                    })}
                    {field("New password", new_password_help, error_for(err, "password"), view! {
                        <input type="password" name="password" minlength="12" autocomplete="new-password" required/>
                    })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Change password"</button></div>
            </fieldset>
        </form>
        <h2>"API tokens"</h2>
        <p class="hint">"For scripts, Grafana and Prometheus remote_write. A token is shown once, when it is made."</p>
        <form method="post" action="/account/tokens" class="form tokens">
            {csrf(&ctx.csrf)}
            <fieldset>
                <legend>"New token"</legend>
                <div class="fields">
                    {field("Name", "What will use it, e.g. grafana.", error_for(err, "name"), view! {
                        <input name="name" value=name maxlength="64" required/>
                    })}
                    {field("Scope", scope_help, error_for(err, "scope"), view! { <select name="scope">{options}</select> })}
                    {field("Expires after (days)", "1 to 3650; empty for never.", error_for(err, "expires_days"), view! {
                        <input name="expires_days" type="number" min="1" max="3650" value=days class="short"/>
                    })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Create token"</button></div>
            </fieldset>
        </form>
        <table class="data tokens">
            <thead><tr>
                {show_owner.then(|| view! { <th>"Owner"</th> })}
                <th>"Name"</th><th>"Scope"</th><th>"State"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
