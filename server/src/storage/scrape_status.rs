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

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::scrape_status::ScrapeStatuses for T {
    async fn save_scrape_status(
        &self,
        agent_id: i64,
        targets_json: &str,
        now_ms: i64,
    ) -> crate::storage::Result<()> {
        self.db().sql("INSERT INTO scrape_status (agent_id, targets, updated_ms) VALUES (?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET targets = excluded.targets, updated_ms = excluded.updated_ms")
            .bind(agent_id).bind(targets_json).bind(now_ms).execute().await?;
        Ok(())
    }

    async fn scrape_statuses(&self) -> crate::storage::Result<Vec<(String, String, i64)>> {
        Ok(self.db().sql("SELECT a.name, s.targets, s.updated_ms FROM scrape_status s JOIN agents a ON a.id = s.agent_id WHERE a.revoked_ms IS NULL ORDER BY a.name")
            .fetch_all().await?)
    }
}
