//! The bot's long-polling loop (getUpdates) and the slot holding the
//! current Telegram client, which the settings page can replace at run
//! time (a new token takes effect without a restart). The update offset is
//! stored after each batch, so a restart neither replays nor skips much:
//! at worst the last batch's commands run again, and those are idempotent
//! or harmless (a used code is refused, a silence is added twice).

use super::bot::Commands;
use super::telegram::Telegram;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use teloxide::payloads::{AnswerCallbackQuerySetters, GetUpdatesSetters};
use teloxide::requests::Requester;
use teloxide::types::UpdateKind;
use tokio_util::sync::CancellationToken;

const OFFSET_KEY: &str = "telegram.update_offset";

/// The current Telegram client, if a token is configured.
#[derive(Clone, Default)]
pub struct Slot(Arc<RwLock<Option<Arc<Telegram>>>>);

impl Slot {
    pub fn new(t: Option<Telegram>) -> Self {
        Self(Arc::new(RwLock::new(t.map(Arc::new))))
    }

    pub fn get(&self) -> Option<Arc<Telegram>> {
        self.0.read().expect("lock").clone()
    }

    pub fn set(&self, t: Telegram) {
        *self.0.write().expect("lock") = Some(Arc::new(t));
    }
}

async fn handle(tg: &Telegram, cmds: &Commands, kind: UpdateKind) {
    match kind {
        UpdateKind::Message(m) => {
            let Some(text) = m.text() else { return };
            if !text.starts_with('/') {
                return;
            }
            let chat = m.chat.id.0;
            let reply = cmds.command(chat, text).await;
            if let Err(e) = tg.reply(chat, &reply).await {
                tracing::warn!(chat, error = %e, "bot reply not sent");
            }
        }
        UpdateKind::CallbackQuery(q) => {
            let chat = q.message.as_ref().map(|m| m.chat().id.0);
            let answer = match (chat, q.data.as_deref()) {
                (Some(chat), Some(data)) => cmds.callback(chat, data).await,
                _ => "Unknown button.".to_string(),
            };
            let sent = tg
                .bot()
                .answer_callback_query(q.id.clone())
                .text(answer.clone())
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "callback answer not sent");
            }
            // The chat sees who did what, not just the one who pressed.
            if let Some(chat) = chat {
                let text = super::telegram::escape(&answer);
                if let Err(e) = tg.reply(chat, &text).await {
                    tracing::warn!(chat, error = %e, "bot reply not sent");
                }
            }
        }
        _ => {}
    }
}

/// Reads updates until shutdown; `poll` is the long-poll timeout.
pub async fn run(slot: Slot, cmds: Arc<Commands>, poll: Duration, shutdown: CancellationToken) {
    let mut offset: i32 = match cmds.store().setting(OFFSET_KEY).await {
        Ok(v) => v.and_then(|v| v.parse().ok()).unwrap_or(0),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the bot's update offset; starting over");
            0
        }
    };
    loop {
        let Some(tg) = slot.get() else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        };
        let req = tg
            .bot()
            .get_updates()
            .offset(offset)
            .timeout(poll.as_secs() as u32);
        let updates = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = req => r,
        };
        match updates {
            Ok(updates) if !updates.is_empty() => {
                for u in updates {
                    offset = offset.max(u.id.0 as i32 + 1);
                    handle(&tg, &cmds, u.kind).await;
                }
                if let Err(e) = cmds
                    .store()
                    .set_setting(OFFSET_KEY, &offset.to_string())
                    .await
                {
                    tracing::warn!(error = %e, "cannot store the bot's update offset");
                }
            }
            Ok(_) => {
                if poll.is_zero() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Telegram getUpdates failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    }
}
