//! Desired state per host, and what each agent announced it can do. The
//! document is stored whole with its generation; publishing a document
//! equal to the stored one changes nothing, so generations only move when
//! something an agent must do changed.

use super::sql::HasDb;
use super::Result;
use async_trait::async_trait;
use dozor_common::desired::{Applied, DesiredState};
use dozor_common::protocol::Capabilities;
use std::collections::BTreeMap;

/// Where a host stands: the generation wanted and the one applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredStatus {
    pub generation: u64,
    pub applied_generation: Option<u64>,
    pub applied_error: Option<String>,
    pub applied_ms: Option<i64>,
}

#[async_trait]
pub trait DesiredStates: Send + Sync {
    async fn desired_state(&self, agent_id: i64) -> Result<Option<DesiredState>>;
    /// Stores `sections` as the host's document; the generation grows by
    /// one when they differ from the stored ones. Returns the generation.
    async fn publish_desired(
        &self,
        agent_id: i64,
        sections: &BTreeMap<String, serde_json::Value>,
        now_ms: i64,
    ) -> Result<u64>;
    async fn record_applied(&self, agent_id: i64, a: &Applied, now_ms: i64) -> Result<()>;
    async fn desired_status(&self, agent_id: i64) -> Result<Option<DesiredStatus>>;
    async fn record_capabilities(&self, agent_id: i64, c: &Capabilities) -> Result<()>;
    /// None for an agent that never announced any (protocol 1).
    async fn capabilities(&self, agent_id: i64) -> Result<Option<Capabilities>>;
}

fn list(json: Option<String>) -> Vec<String> {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

#[async_trait]
impl<T: HasDb> DesiredStates for T {
    async fn desired_state(&self, agent_id: i64) -> Result<Option<DesiredState>> {
        let row: Option<(i64, String)> = self
            .db()
            .sql("SELECT generation, doc FROM desired_state WHERE agent_id = ?")
            .bind(agent_id)
            .fetch_optional()
            .await?;
        Ok(row.map(|(generation, doc)| DesiredState {
            generation: generation as u64,
            sections: serde_json::from_str(&doc).unwrap_or_default(),
        }))
    }

    async fn publish_desired(
        &self,
        agent_id: i64,
        sections: &BTreeMap<String, serde_json::Value>,
        now_ms: i64,
    ) -> Result<u64> {
        let doc = serde_json::to_string(sections).expect("JSON values serialise");
        let mut tx = self.db().begin().await?;
        let current: Option<(i64, String)> = tx
            .sql("SELECT generation, doc FROM desired_state WHERE agent_id = ?")
            .bind(agent_id)
            .fetch_optional()
            .await?;
        let generation = match current {
            Some((g, old)) if old == doc => g,
            Some((g, _)) => {
                tx.sql("UPDATE desired_state SET generation = ?, doc = ?, updated_ms = ? WHERE agent_id = ?")
                    .bind(g + 1)
                    .bind(doc)
                    .bind(now_ms)
                    .bind(agent_id)
                    .execute()
                    .await?;
                g + 1
            }
            None => {
                tx.sql("INSERT INTO desired_state (agent_id, generation, doc, updated_ms) VALUES (?, 1, ?, ?)")
                    .bind(agent_id)
                    .bind(doc)
                    .bind(now_ms)
                    .execute()
                    .await?;
                1
            }
        };
        tx.commit().await?;
        Ok(generation as u64)
    }

    async fn record_applied(&self, agent_id: i64, a: &Applied, now_ms: i64) -> Result<()> {
        self.db()
            .sql("UPDATE desired_state SET applied_generation = ?, applied_error = ?, applied_ms = ? WHERE agent_id = ?")
            .bind(a.generation as i64)
            .bind(&a.error)
            .bind(now_ms)
            .bind(agent_id)
            .execute()
            .await?;
        Ok(())
    }

    async fn desired_status(&self, agent_id: i64) -> Result<Option<DesiredStatus>> {
        let row: Option<(i64, Option<i64>, Option<String>, Option<i64>)> = self
            .db()
            .sql("SELECT generation, applied_generation, applied_error, applied_ms FROM desired_state WHERE agent_id = ?")
            .bind(agent_id)
            .fetch_optional()
            .await?;
        Ok(row.map(|(g, ag, e, at)| DesiredStatus {
            generation: g as u64,
            applied_generation: ag.map(|g| g as u64),
            applied_error: e,
            applied_ms: at,
        }))
    }

    async fn record_capabilities(&self, agent_id: i64, c: &Capabilities) -> Result<()> {
        self.db()
            .sql(
                "UPDATE agents SET protocol = ?, task_kinds = ?, desired_sections = ?, nginx = ? WHERE id = ?",
            )
            .bind(i64::from(c.protocol))
            .bind(serde_json::to_string(&c.task_kinds).expect("strings serialise"))
            .bind(serde_json::to_string(&c.desired_sections).expect("strings serialise"))
            .bind(
                c.nginx
                    .as_ref()
                    .map(|n| serde_json::to_string(n).expect("nginx info serialises")),
            )
            .bind(agent_id)
            .execute()
            .await?;
        Ok(())
    }

    async fn capabilities(&self, agent_id: i64) -> Result<Option<Capabilities>> {
        type Row = (i64, Option<String>, Option<String>, Option<String>);
        let row: Option<Row> = self
            .db()
            .sql("SELECT CAST(protocol AS BIGINT), task_kinds, desired_sections, nginx FROM agents WHERE id = ?")
            .bind(agent_id)
            .fetch_optional()
            .await?;
        Ok(row.and_then(|(protocol, kinds, sections, nginx)| {
            (protocol >= 2).then(|| Capabilities {
                protocol: protocol as u32,
                task_kinds: list(kinds),
                desired_sections: list(sections),
                nginx: nginx.and_then(|n| serde_json::from_str(&n).ok()),
            })
        }))
    }
}
