//! Where heartbeats go. The remote collector posts them over HTTP; the
//! server's embedded collector hands them straight to its ingest path. Both
//! see the same outcomes, so the agent loop is written once.

use async_trait::async_trait;
use dozor_common::containers::TaskBatch;
use dozor_common::protocol::{HeartbeatRequest, HeartbeatResponse, TaskResult};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// 400/413: the batch itself is bad. Retrying cannot help, so it is
    /// dropped (as Prometheus remote-write does) and the error logged.
    #[error("server rejected the batch: {0}")]
    Rejected(String),
    /// 401/403: the key is wrong or revoked. Data is kept; the agent waits.
    #[error("agent key rejected: {0}")]
    Unauthorized(String),
    /// Network errors, 5xx and 429: keep the batch and retry later.
    #[error("{message}")]
    Retry {
        message: String,
        after: Option<Duration>,
    },
}

#[async_trait]
pub trait Sink: Send + Sync {
    async fn send(&self, req: HeartbeatRequest) -> Result<HeartbeatResponse, SendError>;

    /// Waits up to `wait` for tasks (the long-poll), so a task reaches the
    /// agent within a second rather than with the next heartbeat. None:
    /// this sink has no such channel, and tasks ride on heartbeats.
    async fn poll_tasks(&self, _wait: Duration) -> Option<Result<TaskBatch, SendError>> {
        None
    }

    /// The host's whole desired-state document.
    async fn fetch_desired(&self) -> Result<dozor_common::desired::DesiredState, SendError> {
        Err(SendError::Rejected("this sink has no desired state".into()))
    }

    /// Reports one finished task at once.
    async fn send_result(&self, _result: &TaskResult) -> Result<(), SendError> {
        Err(SendError::Rejected(
            "this sink takes results with heartbeats".into(),
        ))
    }
}
