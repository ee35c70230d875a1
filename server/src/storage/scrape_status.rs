//! Agents' scrape targets as they last reported them (JSON text of
//! `protocol::TargetStatus` lists). Implemented once for both backends.

use super::Result;
use async_trait::async_trait;

#[async_trait]
pub trait ScrapeStatuses: Send + Sync {
    /// Replaces the agent's report.
    async fn save_scrape_status(
        &self,
        agent_id: i64,
        targets_json: &str,
        now_ms: i64,
    ) -> Result<()>;
    /// (agent name, targets JSON, reported at), by agent name.
    async fn scrape_statuses(&self) -> Result<Vec<(String, String, i64)>>;
}

macro_rules! scrape_status_impl {
    ($store:ty, $writer:ident, $reader:ident, $sql:path) => {
        #[async_trait::async_trait]
        impl $crate::storage::scrape_status::ScrapeStatuses for $store {
            async fn save_scrape_status(&self, agent_id: i64, targets_json: &str, now_ms: i64) -> $crate::storage::Result<()> {
                sqlx::query(&$sql("INSERT INTO scrape_status (agent_id, targets, updated_ms) VALUES (?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET targets = excluded.targets, updated_ms = excluded.updated_ms"))
                    .bind(agent_id).bind(targets_json).bind(now_ms).execute(&self.$writer).await?;
                Ok(())
            }

            async fn scrape_statuses(&self) -> $crate::storage::Result<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as("SELECT a.name, s.targets, s.updated_ms FROM scrape_status s JOIN agents a ON a.id = s.agent_id WHERE a.revoked_ms IS NULL ORDER BY a.name")
                    .fetch_all(&self.$reader).await?)
            }
        }
    };
}
pub(crate) use scrape_status_impl;
