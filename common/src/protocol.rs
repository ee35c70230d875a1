//! The agent ↔ server wire protocol (JSON, compressed with zstd or gzip).
//!
//! Paths:
//! - `POST /api/v1/agents/enroll`: [`EnrollRequest`] → [`EnrollResponse`].
//! - `POST /api/v1/agents/heartbeat` with `Authorization: Bearer <agent key>`:
//!   [`HeartbeatRequest`] → [`HeartbeatResponse`], sent only after commit.
//! - `GET /api/v1/agents/tasks?wait=S` (long-poll) and
//!   `POST /api/v1/agents/task-result`: see [`crate::containers`].
//!
//! Errors are [`ErrorBody`] with the status codes of the Prometheus
//! remote-write contract: 400 never retried, 401/403 key, 413 too large,
//! 429 with `Retry-After`, 503 storage down (retried with backoff).

use crate::model::SeriesBatch;
use serde::{Deserialize, Serialize};

/// The protocol this build speaks. 2 added typed task errors, announced
/// capabilities and desired state; agents that send no capabilities
/// speak 1.
pub const PROTOCOL_VERSION: u32 = 2;

pub const ENROLL_PATH: &str = "/api/v1/agents/enroll";
pub const HEARTBEAT_PATH: &str = "/api/v1/agents/heartbeat";
/// The label the server stamps on every series from the agent's identity.
pub const HOST_LABEL: &str = "host";

/// What a write refused while storing the rest: one bad series or sample
/// never blocks the good ones beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Series refused whole: an invalid or repeated name, a NUL byte, a
    /// label over the limits.
    pub series: u64,
    /// Samples of accepted series not stored: outside the accepted time
    /// range, or a second value for a timestamp already stored.
    pub samples: u64,
    /// The first few reasons, each naming the series and what was wrong.
    pub examples: Vec<String>,
}

impl Rejected {
    /// Reasons kept in an answer; the counts cover the rest.
    pub const MAX_EXAMPLES: usize = 5;

    pub fn is_empty(&self) -> bool {
        self.series == 0 && self.samples == 0
    }

    pub fn example(&mut self, text: String) {
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(text);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub token: String,
    pub name: String,
    #[serde(default)]
    pub inventory: Option<HostInventory>,
    /// What the agent can do, so the server knows before its first
    /// heartbeat; absent from agents before protocol 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: i64,
    pub name: String,
    /// Shown once; the server keeps only its hash.
    pub agent_key: String,
}

/// Facts about a host, sent at enrolment and then whenever they change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInventory {
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub kernel: String,
    #[serde(default)]
    pub cpu_model: String,
    #[serde(default)]
    pub cpu_cores: u32,
    #[serde(default)]
    pub memory_bytes: u64,
    /// Unix seconds.
    #[serde(default)]
    pub boot_time: i64,
    #[serde(default)]
    pub agent_version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    #[serde(default)]
    pub inventory: Option<HostInventory>,
    #[serde(default)]
    pub series: Vec<SeriesBatch>,
    #[serde(default)]
    pub task_results: Vec<TaskResult>,
    /// The agent's scrape targets and how their last scrape went; absent
    /// from agents that scrape nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_targets: Option<Vec<TargetStatus>>,
    /// Every container on the host, when the list changed since the last
    /// accepted heartbeat; absent when unchanged or without Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<crate::containers::ContainerInfo>>,
    /// Docker events seen since the last accepted heartbeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_events: Vec<crate::containers::ContainerEvent>,
    /// What this agent can do; absent from agents before protocol 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// The desired-state generation the agent applied, and how it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_applied: Option<crate::desired::Applied>,
    /// Type, help and unit of the families the agent's scrapes read, when
    /// they changed (and every few minutes); absent when nothing is due.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetricMetadata>,
    /// Blocks made and bad-path hits seen since the last accepted
    /// heartbeat; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf: Option<crate::protection::WafReport>,
    /// Every certificate the host must hold and where it stands, when
    /// that changed (and every 10 minutes); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Vec<crate::certs::Report>>,
    /// The agent's clock (Unix ms) as it sent this request, so the server
    /// can measure how far the two clocks are apart; absent from older
    /// agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_ms: Option<i64>,
}

/// One metric family's metadata, as Prometheus's metadata API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricMetadata {
    pub metric: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub unit: String,
}

/// An agent's protocol version and what it can run and converge, so the
/// server never asks an older agent for something it does not have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub protocol: u32,
    /// Task kinds it has handlers for (`crate::tasks::TaskKind::NAME`).
    pub task_kinds: Vec<String>,
    /// Desired-state sections it converges (`crate::desired::Section::NAME`).
    pub desired_sections: Vec<String>,
    /// How it runs its host's nginx; None when it does not (`--nginx off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<crate::services::NginxInfo>,
}

/// One scrape target's last scrape, for the server's Targets page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub job: String,
    pub url: String,
    pub up: bool,
    /// Unix milliseconds; 0 before the first scrape.
    pub last_scrape_ms: i64,
    pub duration_ms: u64,
    pub samples: usize,
    /// Why it failed, or the first bad line of a partly good scrape.
    #[serde(default)]
    pub error: Option<String>,
}

impl HeartbeatRequest {
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Samples newly stored (re-sent duplicates are not counted).
    pub stored_samples: u64,
    /// Samples dropped because they are older than the retention window.
    #[serde(default)]
    pub dropped_samples: u64,
    /// What was refused while the rest was stored.
    #[serde(default, skip_serializing_if = "Rejected::is_empty")]
    pub rejected: Rejected,
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Scrape targets defined on the server for this agent (the whole
    /// list, every time), for agents before protocol 2; newer ones read
    /// them from the desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_targets: Option<Vec<RemoteTarget>>,
    /// The generation of this host's desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_generation: Option<u64>,
}

/// A scrape target defined on the server for one agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTarget {
    pub job: String,
    pub url: String,
    #[serde(default)]
    pub interval: Option<String>,
    /// "prometheus" or "json".
    #[serde(default)]
    pub format: Option<String>,
}

/// Work the server asks an agent to do. Ids are unique; an agent that sees
/// the same id twice must not run it twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: i64,
    pub kind: String,
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub task_id: i64,
    pub ok: bool,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub output: serde_json::Value,
    /// Why it failed, typed (agents before protocol 2 send only `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::tasks::TaskError>,
}

/// Every error response. `field` points at the part of the payload at fault
/// (for example `series[3].labels.host`), when there is one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
