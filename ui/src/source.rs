//! What pages need from the server. The server implements it over the
//! PromQL engine and the catalog, so this crate never touches storage.

use async_trait::async_trait;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// Labels including `__name__` when the result keeps it.
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstantData {
    pub labels: Labels,
    pub value: f64,
}

/// An enrolled agent as the Agents page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentInfo {
    pub name: String,
    pub version: Option<String>,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub created_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked: bool,
    /// Sent a heartbeat recently.
    pub online: bool,
    /// Facts the collector reported (hostname, CPU model, cores, memory, …).
    pub facts: Vec<(String, String)>,
}

pub use dozor_common::containers::ContainerInfo;

/// A container with its latest stats, for the containers tables.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub host: String,
    pub info: ContainerInfo,
    /// CPU cores in use (1.0 = one core), over the last minute.
    pub cpu: Option<f64>,
    /// Working set, bytes.
    pub memory: Option<f64>,
    /// Received plus sent, bytes per second.
    pub net: Option<f64>,
}

/// A query failure, with the text the PromQL engine gave.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct QueryFailed(pub String);

#[async_trait]
pub trait DataSource: Send + Sync {
    async fn query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Vec<SeriesData>, QueryFailed>;
    async fn query_instant(&self, query: &str, t_ms: i64) -> Result<Vec<InstantData>, QueryFailed>;
    /// Values of `label` on series matching `selector` (all series if None).
    async fn label_values(
        &self,
        label: &str,
        selector: Option<&str>,
    ) -> Result<Vec<String>, QueryFailed>;
    async fn agents(&self) -> Result<Vec<AgentInfo>, QueryFailed>;
    /// Problems with the store an operator should see (failing database
    /// background jobs), one sentence each; none by default.
    async fn storage_problems(&self) -> Vec<String> {
        Vec::new()
    }
    /// Containers as their collectors last reported them, with live stats;
    /// one host's, or all.
    async fn containers(&self, host: Option<&str>) -> Result<Vec<ContainerRow>, QueryFailed>;
    /// The interval agents report at, so charts never step finer.
    fn scrape_interval_ms(&self) -> i64;
    fn now_ms(&self) -> i64;
}
