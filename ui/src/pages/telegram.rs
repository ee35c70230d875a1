//! Telegram settings: the bot's state, link codes for `/subscribe`
//! (everyone), the bot token and a test message (admins), linked chats.

use crate::chart::ticks::datetime;
use crate::components::shell::Ctx;
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub struct Link {
    pub chat_id: i64,
    pub channel: String,
    pub user: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Data {
    /// "configured by flag or environment", "set on this page", or None.
    pub token_source: Option<String>,
    /// The token can be changed here (not set by flag or environment).
    pub token_editable: bool,
    pub links: Vec<Link>,
    pub notice: Option<String>,
    /// A link code just made: shown once.
    pub code: Option<(String, String)>,
    pub is_admin: bool,
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let csrf = ctx.csrf.clone();
    let state = match &d.token_source {
        Some(s) => view! { <p><span class="badge ok">"bot on"</span>" Token "{s.clone()}"."</p> }
            .into_any(),
        None => view! { <p><span class="badge muted">"bot off"</span>" No bot token yet."</p> }
            .into_any(),
    };
    let code = d.code.map(|(code, channel)| {
        let cmd = format!("/subscribe {code}");
        view! {
            <div class="notice">
                <p>"Send this to the bot from the chat that should receive channel "<b>{channel}</b>" (valid for 1 hour, once):"</p>
                <p><code class="secret">{cmd}</code></p>
            </div>
        }
    });
    let admin = d.is_admin.then(|| {
        let token_form = d.token_editable.then(|| {
            view! {
                <form method="post" action="/settings/telegram/token" class="inline">
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <input name="token" type="password" placeholder="123456:ABC… from @BotFather" size="40" autocomplete="off" required/>
                    <button type="submit">"Save token"</button>
                </form>
            }
        });
        view! {
            <section>
                <h2>"Bot"</h2>
                {token_form}
                <form method="post" action="/settings/telegram/test" class="inline">
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <input name="chat" placeholder="chat id, e.g. 12345 or -100987" required/>
                    <button type="submit">"Send a test message"</button>
                </form>
            </section>
        }
    });
    let is_admin = d.is_admin;
    let links = d
        .links
        .into_iter()
        .map(|l| {
            let unlink = is_admin.then(|| {
                let action = format!("/settings/telegram/unlink/{}", l.chat_id);
                view! {
                    <form method="post" class="inline" action=action>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <button type="submit">"Unlink"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <td><code>{l.chat_id}</code></td>
                    <td>{l.channel}</td>
                    <td>{l.user}</td>
                    <td>{format!("{} UTC", datetime(l.created_ms))}</td>
                    <td>{unlink}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {d.notice.map(|n| view! { <p class="notice">{n}</p> })}
        {state}
        {code}
        <section>
            <h2>"Link a chat"</h2>
            <p>"Make a one-time code, then send "<code>"/subscribe CODE"</code>" to the bot. Your role decides what the chat may do ("<code>"/silence"</code>" needs editor or above)."</p>
            <form method="post" action="/settings/telegram/code" class="inline">
                <input type="hidden" name="csrf" value=ctx.csrf.clone()/>
                <input name="channel" value="default" class="short" title="notification channel: rules name it in channels:"/>
                <button type="submit">"Make a code"</button>
            </form>
        </section>
        {admin}
        <h2>"Linked chats"</h2>
        <table class="data">
            <thead><tr><th>"Chat"</th><th>"Channel"</th><th>"Linked by"</th><th>"Since"</th><th></th></tr></thead>
            <tbody>{links}</tbody>
        </table>
    }
    .into_any()
}
