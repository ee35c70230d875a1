//! The Telegram settings page: link codes for `/subscribe` (any signed-in
//! user; stored hashed, one-time, an hour), and for admins the bot token
//! (checked with getMe, written to a 0600 file, used at once), a test
//! message, and unlinking chats. Every form is CSRF-checked and audited.

use super::authn::{audit, CurrentUser};
use super::guard::form_guard;
use super::ui::{render, Page};
use super::AppState;
use crate::alerting::{bot, service};
use crate::storage::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use dozor_ui::pages::telegram as page;
use std::collections::HashMap;
use teloxide::requests::Requester;

async fn show(
    s: AppState,
    headers: HeaderMap,
    u: CurrentUser,
    notice: Option<String>,
    code: Option<(String, String)>,
) -> Response {
    let links = match s.0.store.chat_links().await {
        Ok(l) => l,
        Err(e) => return super::storage_error(e),
    };
    let mut names: HashMap<i64, String> = HashMap::new();
    if let Ok(users) = s.0.store.list_users().await {
        names.extend(users.into_iter().map(|u| (u.id, u.username)));
    }
    let tg = s.0.telegram.as_ref();
    let token_source = tg.and_then(|t| {
        t.slot.get().map(|_| {
            if t.from_config {
                "configured by flag or environment".to_string()
            } else {
                "set on this page".to_string()
            }
        })
    });
    let is_admin = u.role == Role::Admin;
    let data = page::Data {
        token_source,
        token_editable: tg.is_some_and(|t| !t.from_config),
        links: links
            .into_iter()
            // Non-admins see only the chats they linked.
            .filter(|l| is_admin || l.user_id == u.id)
            .map(|l| page::Link {
                chat_id: l.chat_id,
                user: names.get(&l.user_id).cloned().unwrap_or_default(),
                channel: l.channel,
                created_ms: l.created_ms,
            })
            .collect(),
        notice,
        code,
        is_admin,
    };
    let body = Box::new(move |ctx: &dozor_ui::Ctx| page::body(ctx, data));
    render(
        s,
        headers,
        None,
        u,
        Page::Custom("Telegram".into(), "telegram", body),
    )
    .await
}

pub async fn page(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
) -> Response {
    show(s, headers, u, None, None).await
}

fn channel_ok(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 64
        && c.chars()
            .all(|x| x.is_ascii_alphanumeric() || x == '-' || x == '_')
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn new_code(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Viewer) {
        return refused;
    }
    let channel = f.get("channel").map(|c| c.trim()).unwrap_or("default");
    if !channel_ok(channel) {
        let msg = "A channel name is 1 to 64 letters, digits, - or _.".to_string();
        return show(s, headers, u, Some(msg), None).await;
    }
    let code = crate::auth::generate("");
    let now = s.0.auth.now_ms();
    let stored =
        s.0.store
            .create_link_code(
                &crate::auth::hash_secret(&code),
                channel,
                u.id,
                now,
                now + bot::CODE_TTL_MS,
            )
            .await;
    if let Err(e) = stored {
        return super::storage_error(e);
    }
    audit(&s, &u.name, "telegram.code", Some(channel), None).await;
    show(s, headers, u, None, Some((code, channel.to_string()))).await
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn set_token(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let Some(tg) = s.0.telegram.clone().filter(|t| !t.from_config) else {
        let msg = "The token is set by flag or environment; change it there.".to_string();
        return show(s, headers, u, Some(msg), None).await;
    };
    let token = f.get("token").map(|t| t.trim()).unwrap_or("");
    let notice = match check_token(&tg, token).await {
        Err(why) => format!("Token not saved: {why}"),
        Ok((client, name)) => match service::save_token(&tg.data_dir, token) {
            Ok(()) => {
                tg.slot.set(client);
                audit(&s, &u.name, "telegram.token", Some(&name), None).await;
                format!("Token saved: the bot is @{name}.")
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot write the Telegram token file");
                "Token not saved: the data directory is not writable (see the log).".into()
            }
        },
    };
    show(s, headers, u, Some(notice), None).await
}

/// The token works: getMe answers with the bot's name.
async fn check_token(
    tg: &service::TelegramSettings,
    token: &str,
) -> Result<(crate::alerting::telegram::Telegram, String), String> {
    let shaped = token.split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && rest.len() >= 20
    });
    if !shaped || token.len() > 200 {
        return Err("a bot token looks like 123456789:AA… (from @BotFather).".into());
    }
    let client = tg.client(token).map_err(|e| e.to_string())?;
    match client.bot().get_me().await {
        Ok(me) => Ok((client, me.username().to_string())),
        Err(e) => Err(format!("Telegram refused it: {e}")),
    }
}

#[tracing::instrument(skip_all, fields(user = %u.name))]
pub async fn test_send(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let chat = f.get("chat").map(|c| c.trim()).unwrap_or("");
    let notice = match (
        chat.parse::<i64>(),
        s.0.telegram.as_ref().and_then(|t| t.slot.get()),
    ) {
        (Err(_), _) => "A chat id is a number, e.g. 12345 or -100987.".to_string(),
        (_, None) => "No bot token yet: save one first.".to_string(),
        (Ok(id), Some(tg)) => {
            let text = format!(
                "✅ Test message from dozor, sent by {}.",
                crate::alerting::telegram::escape(&u.name)
            );
            match tg.reply(id, &text).await {
                Ok(()) => format!("Test message sent to {id}."),
                Err(e) => format!("Telegram did not accept it: {e}"),
            }
        }
    };
    audit(&s, &u.name, "telegram.test", Some(chat), None).await;
    show(s, headers, u, Some(notice), None).await
}

#[tracing::instrument(skip_all, fields(user = %u.name, chat))]
pub async fn unlink(
    State(s): State<AppState>,
    Extension(u): Extension<CurrentUser>,
    Path(chat): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = form_guard(&headers, &f, &u, Role::Admin) {
        return refused;
    }
    let notice = match s.0.store.unlink_chat(chat).await {
        Ok(0) => "That chat was not linked.".to_string(),
        Ok(n) => {
            audit(
                &s,
                &u.name,
                "telegram.unlink",
                Some(&chat.to_string()),
                None,
            )
            .await;
            format!("Chat {chat} unlinked from {n} channel(s).")
        }
        Err(e) => return super::storage_error(e),
    };
    show(s, headers, u, Some(notice), None).await
}
