//! Users and the audit log (admin only). The server passes plain rows;
//! every form posts with the CSRF token.

use crate::chart::ticks::datetime;
use crate::components::form::{csrf, error_for, field, general_error, notice, FormError};
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub created_ms: i64,
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InviteRow {
    pub id: i64,
    pub role: String,
    pub created_by: String,
    pub expires_ms: i64,
}

/// What the last action produced: a notice, and a fresh invitation link
/// (shown once).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub notice: Option<String>,
    pub invite_link: Option<String>,
    pub error: Option<FormError>,
    /// The add-user form's name and role as they were refused.
    pub draft: Option<(String, String)>,
}

impl From<Option<String>> for Outcome {
    fn from(notice: Option<String>) -> Self {
        Self {
            notice,
            ..Self::default()
        }
    }
}

const ROLES: [&str; 3] = ["viewer", "editor", "admin"];

fn csrf_input(ctx: &Ctx) -> impl IntoView {
    csrf(&ctx.csrf)
}

pub fn body(ctx: &Ctx, users: Vec<UserRow>, invites: Vec<InviteRow>, outcome: Outcome) -> AnyView {
    let rows = users
        .into_iter()
        .map(|u| {
            let base = format!("/users/{}", u.id);
            let roles = ROLES
                .iter()
                .map(|r| view! { <option value=*r selected=u.role == *r>{*r}</option> })
                .collect_view();
            let (toggle, label) = if u.disabled { ("enable", "Enable") } else { ("disable", "Disable") };
            let state = if u.disabled { view! { <span class="badge muted">"disabled"</span> } } else { view! { <span class="badge ok">"active"</span> } };
            view! {
                <tr>
                    <td>{u.name.clone()}</td>
                    <td>{state}</td>
                    <td>
                        <form method="post" class="inline" action=format!("{base}/role")>
                            {csrf_input(ctx)}
                            <select name="role">{roles}</select>
                            <button type="submit">"Set role"</button>
                        </form>
                    </td>
                    <td>
                        <form method="post" class="inline" action=format!("{base}/password")>
                            {csrf_input(ctx)}
                            <input type="password" name="password" placeholder="new password" minlength="12" autocomplete="new-password" required/>
                            <button type="submit">"Reset"</button>
                        </form>
                    </td>
                    <td>
                        <form method="post" class="inline" action=format!("{base}/{toggle}") data-confirm=format!("{label} {}?", u.name)>
                            {csrf_input(ctx)}
                            <button class="danger" type="submit">{label}</button>
                        </form>
                    </td>
                    <td>{format!("{} UTC", datetime(u.created_ms))}</td>
                </tr>
            }
        })
        .collect_view();
    let roles = |chosen: &str| {
        ROLES
            .iter()
            .map(|r| view! { <option value=*r selected=chosen == *r>{*r}</option> })
            .collect_view()
    };
    let link = outcome.invite_link.map(|l| {
        view! {
            <section class="fresh">
                <h2>"Invitation link"</h2>
                <p>"Send it to the new user; it works once, until it expires, and dozor cannot show it again."</p>
                <pre class="cmd" id="invite-link">{l}</pre>
                <button class="copy" type="button" data-copy="invite-link" hidden>"Copy"</button>
            </section>
        }
    });
    let has_pending = !invites.is_empty();
    let pending = invites
        .into_iter()
        .map(|i| {
            let action = format!("/users/invites/{}/revoke", i.id);
            view! {
                <tr>
                    <td>{i.role}</td>
                    <td>{i.created_by}</td>
                    <td>{format!("{} UTC", datetime(i.expires_ms))}</td>
                    <td>
                        <form method="post" class="inline" action=action>
                            {csrf_input(ctx)}
                            <button class="danger" type="submit">"Revoke"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let err = outcome.error.as_ref();
    let (name, role) = outcome.draft.clone().unwrap_or_default();
    let role_help = "viewer reads; editor also changes rules and silences; admin does everything.";
    view! {
        {notice(outcome.notice, false)}
        {general_error(err)}
        {link}
        <form method="post" action="/users/invite" class="form invite">
            {csrf_input(ctx)}
            <fieldset>
                <legend>"Invite a user"</legend>
                <p>"Makes a link that creates one account: the new user picks the name and password."</p>
                <div class="fields">
                    {field("Role", role_help, error_for(err, "invite_role"), view! {
                        <select name="role">{roles("viewer")}</select>
                    })}
                    {field("Valid for (hours)", "1 to 720.", error_for(err, "hours"), view! {
                        <input name="hours" type="number" min="1" max="720" value="72" class="short"/>
                    })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Create invitation link"</button></div>
            </fieldset>
        </form>
        {has_pending.then(|| view! {
            <table class="data invites">
                <thead><tr><th>"Pending invite for"</th><th>"By"</th><th>"Expires"</th><th></th></tr></thead>
                <tbody>{pending}</tbody>
            </table>
        })}
        <form method="post" action="/users" class="form add-user">
            {csrf_input(ctx)}
            <fieldset>
                <legend>"Add a user"</legend>
                <p>"Or create the account yourself and hand over the password."</p>
                <div class="fields">
                    {field("Username", "1 to 64 characters.", error_for(err, "username"), view! {
                        <input name="username" value=name maxlength="64" autocomplete="off" required/>
                    })}
                    {field("Password", "At least 12 characters and not a common one.", error_for(err, "password"), view! {
                        <input type="password" name="password" minlength="12" autocomplete="new-password" required/>
                    })}
                    {field("Role", role_help, error_for(err, "role"), view! {
                        <select name="role">{roles(&role)}</select>
                    })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Create user"</button></div>
            </fieldset>
        </form>
        <h2>"Users"</h2>
        <table class="data users">
            <thead><tr><th>"User"</th><th>"State"</th><th>"Role"</th><th>"Password"</th><th></th><th>"Created"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

pub fn audit(rows: Vec<AuditRow>) -> AnyView {
    let rows = rows
        .into_iter()
        .map(|r| {
            view! {
                <tr>
                    <td>{format!("{} UTC", datetime(r.ts_ms))}</td>
                    <td>{r.actor}</td>
                    <td>{r.action}</td>
                    <td>{r.target.unwrap_or_default()}</td>
                    <td>{r.ip.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data audit">
            <thead><tr><th>"Time"</th><th>"Actor"</th><th>"Action"</th><th>"Target"</th><th>"Address"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
