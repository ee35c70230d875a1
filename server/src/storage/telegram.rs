//! Telegram chat links: one-time `/subscribe` codes (stored hashed) and
//! the chats they linked to a notification channel, plus small settings
//! (the bot's update offset). Implemented once for both backends.

use super::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLink {
    pub chat_id: i64,
    pub channel: String,
    /// Who made the code: their current role decides what the chat may do.
    pub user_id: i64,
    pub created_ms: i64,
}

#[async_trait]
pub trait TelegramLinks: Send + Sync {
    async fn create_link_code(
        &self,
        code_hash: &str,
        channel: &str,
        user_id: i64,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<()>;
    /// Uses a code up and links the chat, in one transaction; `None` when
    /// the code is unknown, used or expired (the caller says nothing more).
    async fn redeem_link_code(
        &self,
        code_hash: &str,
        chat_id: i64,
        now_ms: i64,
    ) -> Result<Option<ChatLink>>;
    /// Removes every link of the chat; how many there were.
    async fn unlink_chat(&self, chat_id: i64) -> Result<u64>;
    async fn chat_links(&self) -> Result<Vec<ChatLink>>;
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;
}

pub fn link(r: (i64, String, i64, i64)) -> ChatLink {
    ChatLink {
        chat_id: r.0,
        channel: r.1,
        user_id: r.2,
        created_ms: r.3,
    }
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::telegram::TelegramLinks for T {
    async fn create_link_code(
        &self,
        code_hash: &str,
        channel: &str,
        user_id: i64,
        now_ms: i64,
        expires_ms: i64,
    ) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO telegram_codes (code_hash, channel, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)")
            .bind(code_hash).bind(channel).bind(user_id).bind(now_ms).bind(expires_ms)
            .execute().await?;
        Ok(())
    }

    async fn redeem_link_code(
        &self,
        code_hash: &str,
        chat_id: i64,
        now_ms: i64,
    ) -> crate::storage::Result<Option<crate::storage::telegram::ChatLink>> {
        let mut tx = self.db().begin().await?;
        let used: Option<(String, i64)> = tx.sql("UPDATE telegram_codes SET used_ms = ? WHERE code_hash = ? AND used_ms IS NULL AND expires_ms > ? RETURNING channel, user_id")
            .bind(now_ms).bind(code_hash).bind(now_ms).fetch_optional().await?;
        let Some((channel, user_id)) = used else {
            return Ok(None);
        };
        tx.sql("INSERT INTO telegram_links (chat_id, channel, user_id, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, channel) DO UPDATE SET user_id = excluded.user_id, created_ms = excluded.created_ms")
            .bind(chat_id).bind(&channel).bind(user_id).bind(now_ms).execute().await?;
        tx.commit().await?;
        Ok(Some(crate::storage::telegram::ChatLink {
            chat_id,
            channel,
            user_id,
            created_ms: now_ms,
        }))
    }

    async fn unlink_chat(&self, chat_id: i64) -> crate::storage::Result<u64> {
        Ok(self
            .db()
            .sql("DELETE FROM telegram_links WHERE chat_id = ?")
            .bind(chat_id)
            .execute()
            .await?)
    }

    async fn chat_links(&self) -> crate::storage::Result<Vec<crate::storage::telegram::ChatLink>> {
        let rows: Vec<(i64, String, i64, i64)> = self.db().sql("SELECT chat_id, channel, user_id, created_ms FROM telegram_links ORDER BY channel, chat_id")
            .fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::telegram::link)
            .collect())
    }

    async fn setting(&self, key: &str) -> crate::storage::Result<Option<String>> {
        Ok(self
            .db()
            .sql("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .scalar_optional()
            .await?)
    }

    async fn set_setting(&self, key: &str, value: &str) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key).bind(value).execute().await?;
        Ok(())
    }
}
