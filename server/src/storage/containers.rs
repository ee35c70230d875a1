//! Containers as their collectors report them: the latest inventory per
//! host (replaced whole on each report), the history of changes between
//! reports, and Docker's events. Implemented once for both backends.

use super::Result;
use async_trait::async_trait;
use dozor_common::containers::{ContainerEvent, ContainerInfo};
use std::collections::BTreeMap;

/// A container and the host it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub host: String,
    pub info: ContainerInfo,
    pub updated_ms: i64,
}

/// One entry of a container's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub event: ContainerEvent,
    /// "docker" or "inventory".
    pub source: String,
}

#[async_trait]
pub trait Containers: Send + Sync {
    /// Replaces the agent's containers with `list`, recording what changed
    /// (appeared, removed, state, health, image) at `now_ms`.
    async fn save_containers(
        &self,
        agent_id: i64,
        list: &[ContainerInfo],
        now_ms: i64,
    ) -> Result<()>;
    async fn add_container_events(&self, agent_id: i64, events: &[ContainerEvent]) -> Result<()>;
    /// One host's, or every host's; by host and name.
    async fn containers(&self, host: Option<&str>) -> Result<Vec<ContainerRow>>;
    /// Newest first.
    async fn container_events(
        &self,
        host: &str,
        container: &str,
        limit: i64,
    ) -> Result<Vec<EventRow>>;
    /// Drops a finished task's answer (a log answer, once the page has it).
    /// The row stays: a deleted newest row would let SQLite hand its id out
    /// again, and an agent skips an id it has already run.
    async fn clear_task_result(&self, id: i64) -> Result<()>;
    /// Drops events before `events_before_ms` and finished tasks before
    /// `tasks_before_ms`, but never the newest task: SQLite would reuse its
    /// id, and agents skip ids they have run. Returns rows deleted.
    async fn prune_container_history(
        &self,
        events_before_ms: i64,
        tasks_before_ms: i64,
    ) -> Result<u64>;
}

/// What changed between two reports of one host, as timeline entries.
pub fn changes(
    old: &BTreeMap<String, ContainerInfo>,
    new: &[ContainerInfo],
    now_ms: i64,
) -> Vec<ContainerEvent> {
    let ev = |c: &str, action: &str, detail: Option<String>| ContainerEvent {
        ts_ms: now_ms,
        container: c.to_string(),
        action: action.to_string(),
        detail,
    };
    let mut out = Vec::new();
    for n in new {
        match old.get(&n.name) {
            None => out.push(ev(&n.name, "appeared", Some(n.state.clone()))),
            Some(o) => {
                if o.state != n.state {
                    out.push(ev(
                        &n.name,
                        "state",
                        Some(format!("{} → {}", o.state, n.state)),
                    ));
                }
                if o.health != n.health {
                    let h = |h: &Option<String>| h.clone().unwrap_or_else(|| "none".into());
                    out.push(ev(
                        &n.name,
                        "health",
                        Some(format!("{} → {}", h(&o.health), h(&n.health))),
                    ));
                }
                if o.image != n.image || o.id != n.id {
                    out.push(ev(&n.name, "recreated", Some(n.image.clone())));
                }
            }
        }
    }
    for name in old.keys() {
        if !new.iter().any(|n| &n.name == name) {
            out.push(ev(name, "removed", None));
        }
    }
    out
}

pub type EventTuple = (String, i64, String, Option<String>, String);

pub fn event_row(r: EventTuple) -> EventRow {
    EventRow {
        event: ContainerEvent {
            container: r.0,
            ts_ms: r.1,
            action: r.2,
            detail: r.3,
        },
        source: r.4,
    }
}

/// A stored document that no longer parses is skipped, not fatal.
pub fn parse_info(json: &str) -> Option<ContainerInfo> {
    serde_json::from_str(json)
        .map_err(|e| tracing::warn!(error = %e, "unreadable container row skipped"))
        .ok()
}

#[async_trait::async_trait]
impl<T: crate::storage::sql::HasDb> crate::storage::containers::Containers for T {
    #[tracing::instrument(skip_all, fields(agent_id, n = list.len()))]
    async fn save_containers(
        &self,
        agent_id: i64,
        list: &[dozor_common::containers::ContainerInfo],
        now_ms: i64,
    ) -> crate::storage::Result<()> {
        // Names are unique in Docker; a list that repeats one keeps the first.
        let mut seen = std::collections::HashSet::new();
        let list: Vec<_> = list
            .iter()
            .filter(|c| seen.insert(c.name.as_str()))
            .cloned()
            .collect();
        let list = list.as_slice();
        let mut tx = self.db().begin().await?;
        let rows: Vec<(String, String)> = tx
            .sql("SELECT name, info FROM containers WHERE agent_id = ?")
            .bind(agent_id)
            .fetch_all()
            .await?;
        let old = rows
            .into_iter()
            .filter_map(|(n, j)| crate::storage::containers::parse_info(&j).map(|i| (n, i)))
            .collect();
        let changes = crate::storage::containers::changes(&old, list, now_ms);
        tx.sql("DELETE FROM containers WHERE agent_id = ?")
            .bind(agent_id)
            .execute()
            .await?;
        for c in list {
            let json = serde_json::to_string(c).expect("container info serialises");
            tx.sql("INSERT INTO containers (agent_id, name, info, updated_ms) VALUES (?, ?, ?, ?)")
                .bind(agent_id)
                .bind(&c.name)
                .bind(json)
                .bind(now_ms)
                .execute()
                .await?;
        }
        for e in &changes {
            tx.sql("INSERT INTO container_events (agent_id, container, ts_ms, action, detail, source) VALUES (?, ?, ?, ?, ?, 'inventory') ON CONFLICT DO NOTHING")
                .bind(agent_id).bind(&e.container).bind(e.ts_ms).bind(&e.action).bind(&e.detail).execute().await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(agent_id, n = events.len()))]
    async fn add_container_events(
        &self,
        agent_id: i64,
        events: &[dozor_common::containers::ContainerEvent],
    ) -> crate::storage::Result<()> {
        let mut tx = self.db().begin().await?;
        for e in events {
            tx.sql("INSERT INTO container_events (agent_id, container, ts_ms, action, detail, source) VALUES (?, ?, ?, ?, ?, 'docker') ON CONFLICT DO NOTHING")
                .bind(agent_id).bind(&e.container).bind(e.ts_ms).bind(&e.action).bind(&e.detail).execute().await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn containers(
        &self,
        host: Option<&str>,
    ) -> crate::storage::Result<Vec<crate::storage::containers::ContainerRow>> {
        let rows: Vec<(String, String, i64)> = self.db().sql("SELECT a.name, c.info, c.updated_ms FROM containers c JOIN agents a ON a.id = c.agent_id WHERE a.revoked_ms IS NULL AND (CAST(? AS TEXT) IS NULL OR a.name = ?) ORDER BY a.name, c.name")
            .bind(host).bind(host).fetch_all().await?;
        Ok(rows
            .into_iter()
            .filter_map(|(host, json, updated_ms)| {
                crate::storage::containers::parse_info(&json).map(|info| {
                    crate::storage::containers::ContainerRow {
                        host,
                        info,
                        updated_ms,
                    }
                })
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn container_events(
        &self,
        host: &str,
        container: &str,
        limit: i64,
    ) -> crate::storage::Result<Vec<crate::storage::containers::EventRow>> {
        let rows: Vec<crate::storage::containers::EventTuple> = self.db().sql("SELECT e.container, e.ts_ms, e.action, e.detail, e.source FROM container_events e JOIN agents a ON a.id = e.agent_id WHERE a.name = ? AND e.container = ? ORDER BY e.ts_ms DESC, e.id DESC LIMIT ?")
            .bind(host).bind(container).bind(limit).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::containers::event_row)
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn clear_task_result(&self, id: i64) -> crate::storage::Result<()> {
        self.db()
            .sql("UPDATE tasks SET result = NULL WHERE id = ? AND finished_ms IS NOT NULL")
            .bind(id)
            .execute()
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn prune_container_history(
        &self,
        events_before_ms: i64,
        tasks_before_ms: i64,
    ) -> crate::storage::Result<u64> {
        let a = self
            .db()
            .sql("DELETE FROM container_events WHERE ts_ms < ?")
            .bind(events_before_ms)
            .execute()
            .await?;
        let b = self.db().sql("DELETE FROM tasks WHERE (finished_ms < ? OR (finished_ms IS NULL AND created_ms < ?)) AND id < (SELECT MAX(id) FROM tasks)").bind(tasks_before_ms).bind(tasks_before_ms).execute().await?;
        Ok(a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, state: &str) -> ContainerInfo {
        ContainerInfo {
            name: name.into(),
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn changes_between_reports() {
        let old: BTreeMap<_, _> = [("a", "running"), ("b", "running")]
            .iter()
            .map(|(n, s)| (n.to_string(), c(n, s)))
            .collect();
        let got = changes(&old, &[c("a", "exited"), c("n", "created")], 5);
        let got: Vec<_> = got
            .iter()
            .map(|e| (e.container.as_str(), e.action.as_str(), e.detail.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "state", Some("running → exited".into())),
                ("n", "appeared", Some("created".into())),
                ("b", "removed", None),
            ]
        );
    }
}
