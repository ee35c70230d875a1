//! Security: the blocks in force (where, why, since, until, hits) with
//! unblock, a manual block, the top offenders and the history of the last
//! week, and the protection rules with their thresholds and the
//! allowlist. Admins change things; everyone signed in reads.

use crate::chart::ticks::datetime;
use crate::components::form::{csrf, error_for, general_error, notice, FormError};
use crate::components::shell::Ctx;
use dozor_common::protection::{Rule, Settings};
use leptos::prelude::*;

/// One block as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRow {
    pub id: i64,
    pub address: String,
    /// None: every host.
    pub host: Option<String>,
    pub service: String,
    pub reason: String,
    pub hits: i64,
    pub dry_run: bool,
    pub created_by: String,
    pub since_ms: i64,
    pub until_ms: Option<i64>,
    pub removed: Option<(String, i64)>,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    pub active: Vec<BlockRow>,
    pub history: Vec<BlockRow>,
    /// (address, blocks in the last week, hosts).
    pub offenders: Vec<(String, usize, String)>,
    /// The last hour's busiest addresses: (address, requests, 4xx, bad
    /// paths, hosts and services).
    pub busiest: Vec<(String, i64, i64, i64, i64)>,
    pub settings: Settings,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<FormError>,
}

fn when(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => datetime(ms),
        None => "until unblocked".into(),
    }
}

fn why(b: &BlockRow) -> String {
    let what = match b.reason.as_str() {
        "rate" => "too many requests",
        "errors" => "too many 4xx",
        "bad_path" => "known-bad paths",
        "fleet" => "bad paths on several services or hosts",
        "manual" => "blocked by hand",
        other => other,
    };
    let mut s = what.to_string();
    if !b.service.is_empty() {
        s.push_str(&format!(" on {}", b.service));
    }
    if b.dry_run {
        s.push_str(" (dry run: not blocked)");
    }
    s
}

fn blocks_table(ctx: &Ctx, rows: &[BlockRow], can_edit: bool, history: bool) -> AnyView {
    let body = rows
        .iter()
        .map(|b| {
            let unblock = (can_edit && b.active && !history).then(|| {
                view! {
                    <form method="post" class="inline" action=format!("/security/blocks/{}/unblock", b.id)>
                        {csrf(&ctx.csrf)}
                        <button type="submit" data-confirm=format!("Unblock {}?", b.address)>"Unblock"</button>
                    </form>
                }
            });
            let ended = b.removed.clone().map(|(by, at)| format!("unblocked by {by} at {}", datetime(at)));
            view! {
                <tr class=b.dry_run.then_some("muted")>
                    <td><code>{b.address.clone()}</code></td>
                    <td>{b.host.clone().unwrap_or_else(|| "every host".into())}</td>
                    <td>{why(b)}</td>
                    <td>{datetime(b.since_ms)}</td>
                    <td>{ended.unwrap_or_else(|| when(b.until_ms))}</td>
                    <td class="num">{b.hits}</td>
                    <td>{b.created_by.clone()}</td>
                    <td>{unblock}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data blocks">
            <thead><tr><th>"Address"</th><th>"Where"</th><th>"Why"</th><th>"Since"</th><th>"Until"</th><th>"Hits"</th><th>"By"</th><th></th></tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
    .into_any()
}

fn rule_fields(name: &'static str, title: &'static str, r: &Rule, err: Option<String>) -> AnyView {
    view! {
        <fieldset class="rule">
            <legend>{title}</legend>
            <label><input type="checkbox" name=format!("{name}_enabled") value="on" checked=r.enabled/>" on"</label>" "
            <label><input type="checkbox" name=format!("{name}_dry_run") value="on" checked=r.dry_run/>" dry run"</label>" "
            <label>"more than "<input type="number" min="1" name=format!("{name}_limit") value=r.limit.to_string()/></label>" "
            <label>" in "<input type="number" min="1" name=format!("{name}_window_s") value=r.window_s.to_string()/>" s"</label>
            {err.map(|e| view! { <p class="field-error">{e}</p> })}
        </fieldset>
    }
    .into_any()
}

fn settings_form(ctx: &Ctx, d: &Data) -> AnyView {
    let s = &d.settings;
    let e = d.error.as_ref();
    let allowlist = s
        .allowlist
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let disabled = !d.can_edit;
    let save = d
        .can_edit
        .then(|| view! { <button type="submit" class="primary">"Save rules"</button> });
    view! {
        <form method="post" action="/security/settings" class="form protection">
            {csrf(&ctx.csrf)}
            {general_error(e)}
            <fieldset disabled=disabled>
                {rule_fields("rate", "Requests from one address", &s.rate, error_for(e, "rate"))}
                {rule_fields("errors", "4xx answers to one address (scanners)", &s.errors, error_for(e, "errors"))}
                {rule_fields("bad_paths", "Known-bad paths a service does not serve", &s.bad_paths, error_for(e, "bad_paths"))}
                <label class="wide">"Known-bad paths (one prefix per line, any case)"
                    <textarea name="paths" rows="6">{s.paths.join("\n")}</textarea>
                </label>
                {error_for(e, "paths").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"A first block lasts "<input type="number" min="1" name="ttl_s" value=s.ttl_s.to_string()/>" s; repeats ×4, up to "
                    <input type="number" min="1" name="max_ttl_s" value=s.max_ttl_s.to_string()/>" s"</label>
                {error_for(e, "ttl_s").map(|m| view! { <p class="field-error">{m}</p> })}
                <label>"Blocked clients get "
                    <select name="deny_status">
                        <option value="403" selected=s.deny_status == 403>"403 Forbidden"</option>
                        <option value="444" selected=s.deny_status == 444>"444 (connection closed)"</option>
                    </select>
                </label>
                <label>"Fleet rule: bad paths on at least "<input type="number" min="0" name="fleet_spread" value=s.fleet_spread.to_string()/>
                    " services or hosts within "<input type="number" min="1" name="fleet_window_s" value=s.fleet_window_s.to_string()/>" s blocks the address everywhere (0: off)"</label>
                {error_for(e, "fleet_spread").map(|m| view! { <p class="field-error">{m}</p> })}
                <label class="wide">"Allowlist: never blocked (addresses or networks, one per line)"
                    <textarea name="allowlist" rows="4">{allowlist}</textarea>
                </label>
                {error_for(e, "allowlist").map(|m| view! { <p class="field-error">{m}</p> })}
            </fieldset>
            {save}
        </form>
    }
    .into_any()
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let manual = d.can_edit.then(|| {
        let e = d.error.as_ref();
        view! {
            <h3>"Block an address"</h3>
            <form method="post" action="/security/blocks" class="form inline-form">
                {csrf(&ctx.csrf)}
                <label>"Address or network "<input type="text" name="address" required placeholder="203.0.113.7 or 198.51.100.0/24"/></label>
                <label>" for "<input type="number" min="0" name="hours" placeholder="until unblocked"/>" hours"</label>
                <button type="submit" class="danger">"Block on every host"</button>
                {error_for(e, "address").map(|m| view! { <p class="field-error">{m}</p> })}
            </form>
        }
    });
    let none = d
        .active
        .is_empty()
        .then(|| view! { <p class="hint">"Nothing is blocked now."</p> });
    let offenders = d
        .offenders
        .iter()
        .map(|(a, n, hosts)| view! { <tr><td><code>{a.clone()}</code></td><td class="num">{*n}</td><td>{hosts.clone()}</td></tr> })
        .collect_view();
    let busiest = d
        .busiest
        .iter()
        .map(|(a, r, e, b, p)| view! { <tr><td><code>{a.clone()}</code></td><td class="num">{*r}</td><td class="num">{*e}</td><td class="num">{*b}</td><td class="num">{*p}</td></tr> })
        .collect_view();
    view! {
        {notice(d.notice.clone(), false)}
        <p class="hint">"Each host's agent reads its nginx access log and blocks addresses that break a rule below, for a while (longer for repeat offenders); the server blocks an address on every host when it probes several. Blocked clients get the answer chosen below from nginx itself."</p>
        <h2>"Blocked now"</h2>
        {none}
        {blocks_table(ctx, &d.active, d.can_edit, false)}
        {manual}
        <h2>"Busiest addresses (last hour)"</h2>
        <p class="hint">"What agents report every interval: each service's busiest addresses by requests and by 4xx (allowlisted and dozor's own addresses are not counted)."</p>
        <table class="data busiest">
            <thead><tr><th>"Address"</th><th>"Requests"</th><th>"4xx"</th><th>"Bad paths"</th><th>"Hosts × services"</th></tr></thead>
            <tbody>{busiest}</tbody>
        </table>
        <h2>"Top offenders (last 7 days)"</h2>
        <table class="data offenders">
            <thead><tr><th>"Address"</th><th>"Blocks"</th><th>"Hosts"</th></tr></thead>
            <tbody>{offenders}</tbody>
        </table>
        <h2>"Rules"</h2>
        {settings_form(ctx, &d)}
        <h2>"History (last 7 days)"</h2>
        {blocks_table(ctx, &d.history, false, true)}
    }
    .into_any()
}
