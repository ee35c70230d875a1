//! Each host's desired-state document, built from what the server knows
//! (one source per section) and published with a new generation when it
//! changed. Operations that change a section call [`publish`] for the
//! host; heartbeats tell the agent the generation, and the agent fetches
//! the document and converges (`dozor_collector::desired`). A new section
//! is a type in `common::desired`, a source here, and an applier on the
//! agent.

pub mod certificates;
pub mod checks;
pub mod protection;
pub mod scrape_targets;
pub mod services;

use crate::storage::{AgentRecord, Store};
use async_trait::async_trait;
use dozor_common::desired::Section;
use std::collections::BTreeMap;

/// Builds one section of a host's document.
#[async_trait]
trait Source: Send + Sync {
    fn name(&self) -> &'static str;
    async fn build(
        &self,
        store: &Store,
        host: &str,
        now_ms: i64,
    ) -> crate::storage::Result<serde_json::Value>;
}

/// Every section the server publishes.
fn sources() -> Vec<Box<dyn Source>> {
    vec![
        Box::new(scrape_targets::ScrapeTargetsSource),
        Box::new(services::ServicesSource),
        Box::new(protection::ProtectionSource),
        Box::new(checks::ChecksSource),
        Box::new(certificates::CertificatesSource),
    ]
}

/// A section's document as JSON (types are checked where it is built).
fn value<S: Section>(doc: &S::Doc) -> serde_json::Value {
    serde_json::to_value(doc).expect("section documents serialise")
}

/// Rebuilds `agent`'s document and stores it; returns its generation
/// (unchanged when nothing in it changed).
pub async fn publish(
    store: &Store,
    agent: &AgentRecord,
    now_ms: i64,
) -> crate::storage::Result<u64> {
    let mut sections = BTreeMap::new();
    for s in sources() {
        // Null: the section has nothing for this host and is left out.
        let v = s.build(store, &agent.name, now_ms).await?;
        if !v.is_null() {
            sections.insert(s.name().to_string(), v);
        }
    }
    store.publish_desired(agent.id, &sections, now_ms).await
}

/// The agent's whole document (published first when it has none yet):
/// what `GET /api/v1/agents/desired-state` and the built-in collector read.
pub async fn document(
    store: &Store,
    agent: &AgentRecord,
    now_ms: i64,
) -> crate::storage::Result<dozor_common::desired::DesiredState> {
    if let Some(doc) = store.desired_state(agent.id).await? {
        return Ok(doc);
    }
    publish(store, agent, now_ms).await?;
    Ok(store.desired_state(agent.id).await?.unwrap_or_default())
}

/// The task long-poll's answer: the agent's tasks and its document's
/// generation (a publish rings the poll, so a change arrives within a
/// second instead of with the next heartbeat).
pub async fn poll(
    hub: &crate::tasks::Hub,
    store: &Store,
    agent_id: i64,
    wait: std::time::Duration,
) -> crate::storage::Result<dozor_common::containers::TaskBatch> {
    let tasks = hub.poll(store, agent_id, wait).await?;
    let desired_generation = store.desired_status(agent_id).await?.map(|d| d.generation);
    Ok(dozor_common::containers::TaskBatch {
        tasks,
        desired_generation,
    })
}

/// [`publish`] for the agent named `host`, when there is one.
pub async fn publish_host(
    store: &Store,
    host: &str,
    now_ms: i64,
) -> crate::storage::Result<Option<u64>> {
    match store.agent_by_name(host).await? {
        Some(a) if a.revoked_ms.is_none() => Ok(Some(publish(store, &a, now_ms).await?)),
        _ => Ok(None),
    }
}
