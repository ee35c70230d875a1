//! Silences as stored: matchers as JSON text (parsed by
//! `alerting::silence`), a time window, who and why. Expiring a silence
//! moves its end to now, so the record stays for the history.

use super::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRow {
    pub id: i64,
    pub matchers: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub author: String,
    pub comment: String,
    pub created_ms: i64,
}

#[async_trait]
pub trait Silences: Send + Sync {
    async fn create_silence(&self, s: &SilenceRow) -> Result<i64>;
    /// Silences ending after `since_ms`, newest first.
    async fn silences(&self, since_ms: i64) -> Result<Vec<SilenceRow>>;
    /// Ends a silence now; false when it had already ended.
    async fn expire_silence(&self, id: i64, now_ms: i64) -> Result<bool>;
}

pub type SilenceTuple = (i64, String, i64, i64, String, String, i64);

pub fn row(r: SilenceTuple) -> SilenceRow {
    SilenceRow {
        id: r.0,
        matchers: r.1,
        starts_ms: r.2,
        ends_ms: r.3,
        author: r.4,
        comment: r.5,
        created_ms: r.6,
    }
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::silences::Silences for T {
    async fn create_silence(
        &self,
        s: &crate::storage::silences::SilenceRow,
    ) -> crate::storage::Result<i64> {
        Ok(self.db().sql("INSERT INTO silences (matchers, starts_ms, ends_ms, author, comment, created_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(&s.matchers).bind(s.starts_ms).bind(s.ends_ms).bind(&s.author).bind(&s.comment).bind(s.created_ms)
            .on_writer().scalar().await?)
    }

    async fn silences(
        &self,
        since_ms: i64,
    ) -> crate::storage::Result<Vec<crate::storage::silences::SilenceRow>> {
        let rows: Vec<crate::storage::silences::SilenceTuple> = self.db().sql("SELECT id, matchers, starts_ms, ends_ms, author, comment, created_ms FROM silences WHERE ends_ms > ? ORDER BY id DESC")
            .bind(since_ms).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::silences::row)
            .collect())
    }

    async fn expire_silence(&self, id: i64, now_ms: i64) -> crate::storage::Result<bool> {
        Ok(self
            .db()
            .sql("UPDATE silences SET ends_ms = ? WHERE id = ? AND ends_ms > ?")
            .bind(now_ms)
            .bind(id)
            .bind(now_ms)
            .execute()
            .await?
            > 0)
    }
}
