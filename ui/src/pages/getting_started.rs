//! The getting-started panel on the overview, for admins: the steps a new
//! installation usually wants next, each with where to do it, ticked off as
//! they are done, until all are or an admin dismisses the panel.

use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GettingStarted {
    pub hosts: usize,
    pub hosts_done: bool,
    pub telegram_bot: bool,
    pub telegram_chats: usize,
    pub telegram_done: bool,
    pub grafana_done: bool,
    pub builtin_on: usize,
    pub builtin_total: usize,
}

fn step(done: bool, title: &'static str, body: AnyView) -> impl IntoView {
    let (class, mark) = if done {
        ("step done", "✓")
    } else {
        ("step", "○")
    };
    view! {
        <li class=class>
            <span class="mark" aria-hidden="true">{mark}</span>
            <div><strong>{title}</strong>{done.then(|| view! { <span class="badge ok">"done"</span> })}<p>{body}</p></div>
        </li>
    }
}

pub fn panel(ctx: &Ctx, g: GettingStarted) -> AnyView {
    let datasource = format!("{}/prometheus", ctx.base_url);
    let hosts = view! {
        {format!("{} host{} report{} now. ", g.hosts, if g.hosts == 1 { "" } else { "s" }, if g.hosts == 1 { "s" } else { "" })}
        "Run the " <a href="/agents">"Add host"</a> " command on another machine; it shows up here within seconds."
    }
    .into_any();
    let telegram = match (g.telegram_bot, g.telegram_chats) {
        (false, _) => view! { "Paste a bot token from @BotFather on the " <a href="/settings/telegram">"Telegram"</a> " page, then send " <code>"/subscribe"</code> " from your chat and a test message." }.into_any(),
        (true, 0) => view! { "The bot is set up; link a chat on the " <a href="/settings/telegram">"Telegram"</a> " page (" <code>"/subscribe"</code> ") and send a test message." }.into_any(),
        (true, n) => view! { {format!("Alerts go to {n} chat{}. ", if n == 1 { "" } else { "s" })} <a href="/settings/telegram">"Send a test message"</a> }.into_any(),
    };
    let grafana = view! {
        "Create a " <b>"read"</b> " API token on your " <a href="/account">"account"</a>
        " page, and in Grafana add a Prometheus data source with the URL "
        <code class="copy">{datasource}</code> " and the token as a bearer token (HTTP header "
        <code>"Authorization: Bearer …"</code> ")."
    }
    .into_any();
    let rules = view! {
        {format!("{} of {} built-in alert rules are on: host down, disks, memory, CPU, clock skew, containers, scrape targets and dozor's own health. ", g.builtin_on, g.builtin_total)}
        <a href="/rules">"Review them"</a>
    }
    .into_any();
    view! {
        <section class="getting-started" aria-labelledby="gs-title">
            <header>
                <h2 id="gs-title">"Getting started"</h2>
                <form method="post" action="/getting-started/dismiss" class="inline">
                    <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                    <button type="submit">"Dismiss"</button>
                </form>
            </header>
            <ol class="steps">
                {step(g.hosts_done, "Add another host", hosts)}
                {step(g.telegram_done, "Connect Telegram", telegram)}
                {step(g.grafana_done, "Connect Grafana", grafana)}
                {step(g.builtin_on > 0, "Alerts from the first minute", rules)}
            </ol>
        </section>
    }
    .into_any()
}
