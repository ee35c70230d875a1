//! Users and the audit log (admin only). The server passes plain rows;
//! every form posts with the CSRF token.

use crate::chart::ticks::datetime;
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
}

impl From<Option<String>> for Outcome {
    fn from(notice: Option<String>) -> Self {
        Self {
            notice,
            invite_link: None,
        }
    }
}

const ROLES: [&str; 3] = ["viewer", "editor", "admin"];

fn csrf_input(ctx: &Ctx) -> impl IntoView {
    view! { <input type="hidden" name="csrf" value=ctx.csrf.clone()/> }
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
    let roles = || {
        ROLES
            .iter()
            .map(|r| view! { <option value=*r>{*r}</option> })
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
    view! {
        {outcome.notice.map(|n| view! { <p class="notice">{n}</p> })}
        {link}
        <section>
            <h2>"Invite a user"</h2>
            <form method="post" action="/users/invite" class="inline">
                {csrf_input(ctx)}
                <select name="role">{roles()}</select>
                <input name="hours" type="number" min="1" max="720" value="72" title="hours until the link expires"/>
                <button type="submit">"Create invitation link"</button>
            </form>
            <table class="data invites">
                <thead><tr><th>"Pending invite for"</th><th>"By"</th><th>"Expires"</th><th></th></tr></thead>
                <tbody>{pending}</tbody>
            </table>
        </section>
        <section>
            <h2>"Add a user"</h2>
            <form method="post" action="/users" class="inline">
                {csrf_input(ctx)}
                <input name="username" placeholder="username" required/>
                <input type="password" name="password" placeholder="password (12+ characters)" minlength="12" autocomplete="new-password" required/>
                <select name="role">{roles()}</select>
                <button type="submit">"Create"</button>
            </form>
        </section>
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
