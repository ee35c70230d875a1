//! Telegram settings: the bot's state, link codes for `/subscribe`
//! (everyone), the bot token and a test message (admins), linked chats.

use crate::chart::ticks::datetime;
use crate::components::form::{csrf, error_for, field, general_error, notice, FormError};
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
    pub error: Option<FormError>,
}

pub fn body(ctx: &Ctx, d: Data) -> AnyView {
    let form_token = ctx.csrf.clone();
    let err = d.error.as_ref();
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
                <form method="post" action="/settings/telegram/token" class="form">
                    {csrf(&form_token)}
                    <div class="fields">
                        {field("Bot token", "From @BotFather: /newbot, then paste what it answers. Stored in the data directory.", error_for(err, "token"), view! {
                            <input name="token" type="password" placeholder="123456:ABC…" autocomplete="off" required/>
                        })}
                    </div>
                    <div class="actions"><button type="submit" class="primary">"Save token"</button></div>
                </form>
            }
        });
        view! {
            <fieldset class="bot">
                <legend>"Bot"</legend>
                {token_form}
                <form method="post" action="/settings/telegram/test" class="form">
                    {csrf(&form_token)}
                    <div class="fields">
                        {field("Test chat", "A chat id, e.g. 12345, or -100987 for a group; the bot sends it a test message.", error_for(err, "chat"), view! {
                            <input name="chat" inputmode="numeric" required/>
                        })}
                    </div>
                    <div class="actions"><button type="submit">"Send a test message"</button></div>
                </form>
            </fieldset>
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
                        {csrf(&form_token)}
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
        {notice(d.notice, false)}
        {general_error(err)}
        {state}
        {code}
        {admin}
        <form method="post" action="/settings/telegram/code" class="form link-chat">
            {csrf(&ctx.csrf)}
            <fieldset>
                <legend>"Link a chat"</legend>
                <p>"Make a one-time code, then send "<code>"/subscribe CODE"</code>" to the bot from the chat. Your role decides what the chat may do ("<code>"/silence"</code>" needs editor or above)."</p>
                <div class="fields">
                    {field("Channel", "The notification channel the chat receives, as rules name it in their channels.", error_for(err, "channel"), view! {
                        <input name="channel" value="default" class="short" required/>
                    })}
                </div>
                <div class="actions"><button type="submit" class="primary">"Make a code"</button></div>
            </fieldset>
        </form>
        <h2>"Linked chats"</h2>
        <table class="data">
            <thead><tr><th>"Chat"</th><th>"Channel"</th><th>"Linked by"</th><th>"Since"</th><th></th></tr></thead>
            <tbody>{links}</tbody>
        </table>
    }
    .into_any()
}
