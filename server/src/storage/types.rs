use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long a request waits for a connection before storage counts as
    /// down (503).
    pub acquire_timeout: Duration,
    pub max_connections: u32,
    /// PostgreSQL password that overrides the URL's (from a secret file).
    pub password: Option<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: Duration::from_secs(5),
            max_connections: 16,
            password: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Samples newly stored.
    pub stored: u64,
    /// Samples already present with the same value (a re-sent batch).
    pub duplicate: u64,
    /// Samples not stored because their (series, timestamp) already holds
    /// another value: the first value stands, as in Prometheus.
    pub conflicts: u64,
    /// Series created by this batch.
    pub new_series: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub deleted_samples: u64,
    pub dropped_partitions: u64,
}

pub use dozor_promql::{RollupPoint, SeriesInfo};

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub key_hash: String,
    /// "remote" or "local" (the server's embedded collector).
    pub kind: String,
    pub inventory: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateAgent {
    Created(i64),
    /// A live (not revoked) agent already has this name.
    NameTaken,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRecord {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub created_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub inventory: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub agent_id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Enqueuing twice with the same key yields the same task.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    pub id: i64,
    pub agent_id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub result: Option<serde_json::Value>,
}

/// What a user may do: admin ⊃ editor ⊃ viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Never prints the password hash.
impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user_id: i64,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub ts_ms: i64,
    /// Username, `agent:NAME`, or `system`.
    pub actor: String,
    /// Dotted verb: `login.success`, `user.create`, `agent.revoke`, …
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

/// The retention a store assumes until the serving process sets its own
/// (`Maintenance::set_retention`): what rollup passes skip. Opening a store
/// never applies a retention.
pub const DEFAULT_RETENTION_MS: i64 = 30 * 86_400_000;
