//! Telegram: link codes (anyone, for their own chats), linking and
//! unlinking chats (the bot's `/subscribe` and `/unsubscribe`, or an admin
//! on the settings page), the bot token and a test message (admins), and
//! acknowledging an alert from its message's button.

use super::{Actor, OpError, OpResult, Ops};
use crate::alerting::service::{self, TelegramSettings};
use crate::alerting::telegram::escape;
use crate::storage::{ChatLink, HistoryRow, Role};
use teloxide::prelude::Requester;

/// A one-time link code lives this long.
pub const CODE_TTL_MS: i64 = 3_600_000;

fn channel_ok(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 64
        && c.chars()
            .all(|x| x.is_ascii_alphanumeric() || x == '-' || x == '_')
}

/// A one-time code that links a chat to `channel`, acting with the
/// actor's role (checked at each use). Returns the code (shown once).
pub async fn new_link_code(ops: &Ops, actor: &Actor, channel: &str) -> OpResult<String> {
    Ops::require(actor, Role::Viewer)?;
    let Some(user_id) = actor.id else {
        return Err(OpError::Forbidden(Role::Viewer));
    };
    if !channel_ok(channel) {
        return Err(OpError::Invalid(
            "A channel name is 1 to 64 letters, digits, - or _.".into(),
        ));
    }
    let code = crate::auth::generate("");
    let now = ops.now_ms();
    ops.store()
        .create_link_code(
            &crate::auth::hash_secret(&code),
            channel,
            user_id,
            now,
            now + CODE_TTL_MS,
        )
        .await?;
    ops.audit(actor, "telegram.code", Some(channel.to_string()))
        .await;
    Ok(code)
}

/// `/subscribe CODE` in `chat`: links it with a valid code. Unknown, used
/// and expired codes are all NotFound, alike. Audited as the code's maker.
pub async fn link_chat(ops: &Ops, chat: i64, code: &str) -> OpResult<ChatLink> {
    let hash = crate::auth::hash_secret(code);
    let Some(link) = ops
        .store()
        .redeem_link_code(&hash, chat, ops.now_ms())
        .await?
    else {
        return Err(OpError::NotFound("That code is not valid.".into()));
    };
    if let Some(u) = ops.store().user_by_id(link.user_id).await? {
        let who = Actor::telegram(u.id, &u.username, u.role, chat);
        ops.audit(&who, "telegram.link", Some(link.channel.clone()))
            .await;
    }
    Ok(link)
}

/// Unlinks `chat` from every channel: by the chat itself (`actor` None,
/// `/unsubscribe`) or by an admin. Returns how many links went.
pub async fn unlink_chat(ops: &Ops, actor: Option<&Actor>, chat: i64) -> OpResult<u64> {
    if let Some(a) = actor {
        Ops::require(a, Role::Admin)?;
    }
    let n = ops.store().unlink_chat(chat).await?;
    if n > 0 {
        let by_chat = Actor {
            id: None,
            name: "telegram".into(),
            role: Role::Viewer,
            origin: super::Origin::Telegram(chat),
        };
        ops.audit(
            actor.unwrap_or(&by_chat),
            "telegram.unlink",
            Some(format!("chat {chat}, {n} channel(s)")),
        )
        .await;
    }
    Ok(n)
}

fn settings(ops: &Ops) -> OpResult<&TelegramSettings> {
    ops.telegram()
        .ok_or_else(|| OpError::Invalid("alerting is not running".into()))
}

/// Checks a bot token with getMe, saves it (0600, never in the database)
/// and starts using it. Returns the bot's name.
pub async fn set_bot_token(ops: &Ops, actor: &Actor, token: &str) -> OpResult<String> {
    Ops::require(actor, Role::Admin)?;
    let tg = settings(ops)?;
    if tg.from_config {
        return Err(OpError::Conflict(
            "The token is set by flag or environment; change it there.".into(),
        ));
    }
    let token = token.trim();
    let shaped = token.split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && rest.len() >= 20
    });
    if !shaped || token.len() > 200 {
        return Err(OpError::Invalid(
            "a bot token looks like 123456789:AA… (from @BotFather).".into(),
        ));
    }
    let client = tg
        .client(token)
        .map_err(|e| OpError::Invalid(e.to_string()))?;
    let name = match client.bot().get_me().await {
        Ok(me) => me.username().to_string(),
        Err(e) => return Err(OpError::Invalid(format!("Telegram refused it: {e}"))),
    };
    service::save_token(&tg.data_dir, token).map_err(|e| {
        tracing::error!(error = %e, "cannot write the Telegram token file");
        OpError::Invalid("the data directory is not writable (see the log).".into())
    })?;
    tg.slot.set(client);
    ops.audit(actor, "telegram.token", Some(name.clone())).await;
    Ok(name)
}

/// Sends a test message to `chat` with the current bot.
pub async fn test_message(ops: &Ops, actor: &Actor, chat: &str) -> OpResult<i64> {
    Ops::require(actor, Role::Admin)?;
    ops.audit(actor, "telegram.test", Some(chat.to_string()))
        .await;
    let Ok(id) = chat.trim().parse::<i64>() else {
        return Err(OpError::Invalid(
            "A chat id is a number, e.g. 12345 or -100987.".into(),
        ));
    };
    let Some(tg) = settings(ops)?.slot.get() else {
        return Err(OpError::Invalid("No bot token yet: save one first.".into()));
    };
    let text = format!(
        "✅ Test message from dozor, sent by {}.",
        escape(&actor.name)
    );
    tg.reply(id, &text)
        .await
        .map_err(|e| OpError::Invalid(format!("Telegram did not accept it: {e}")))?;
    Ok(id)
}

/// Records that `actor` acknowledged one alert of `rule` (the alert
/// message's button): a history entry, audited.
pub async fn acknowledge(
    ops: &Ops,
    actor: &Actor,
    rule: &str,
    labels: &crate::alerting::state::Labels,
) -> OpResult<()> {
    Ops::require(actor, Role::Viewer)?;
    let row = HistoryRow {
        ts_ms: ops.now_ms(),
        rule: rule.to_string(),
        labels: serde_json::to_string(labels).expect("labels serialise"),
        change: "acknowledged".into(),
        value: None,
        severity: labels
            .get("severity")
            .cloned()
            .unwrap_or_else(|| "warning".into()),
    };
    ops.store().record_history(&row).await?;
    ops.audit(actor, "alert.acknowledge", Some(rule.to_string()))
        .await;
    Ok(())
}
