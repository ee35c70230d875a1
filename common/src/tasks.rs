//! Typed agent tasks: work the server asks an agent to do once (fetch
//! logs, restart a container; later issue a certificate, add a replica).
//! Each kind is a type with a stable name, a request and an output; the
//! agent keeps a registry of handlers by kind and announces the kinds it
//! has, and the server calls `call::<Kind>(agent, request)` and gets the
//! output or a typed [`TaskError`]. What must stay true on a host (scrape
//! targets, and next services and certificates) is not a task but desired
//! state (`crate::desired`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One kind of task.
pub trait TaskKind: Send + Sync + 'static {
    /// The name on the wire and in storage; never changes once released.
    const NAME: &'static str;
    type Request: Serialize + DeserializeOwned + Send + Sync + 'static;
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// How a task failed, so the server can tell a user what happened (and
/// map it to a status) without reading messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum TaskError {
    /// What the task acts on does not exist (a container removed).
    #[error("{0}")]
    Gone(String),
    /// The agent's policy forbids it (a container without the label).
    #[error("{0}")]
    Refused(String),
    /// The request is malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// It was tried and did not work (Docker said no).
    #[error("{0}")]
    Failed(String),
    /// The agent has no handler for this kind (an older agent).
    #[error("the agent cannot run {0} tasks; upgrade its collector")]
    Unsupported(String),
    /// The agent has not been in touch recently; nothing was queued.
    #[error("agent offline")]
    Offline,
    /// Queued, but no answer in time; it may still finish.
    #[error("no answer from the agent yet")]
    TimedOut,
}

impl TaskError {
    /// The HTTP status an API answers with.
    pub fn status(&self) -> u16 {
        match self {
            TaskError::Gone(_) => 404,
            TaskError::Refused(_) => 403,
            TaskError::Invalid(_) => 400,
            TaskError::Failed(_) => 502,
            TaskError::Unsupported(_) => 501,
            TaskError::Offline => 503,
            TaskError::TimedOut => 504,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_travel_as_tagged_json() {
        let e = TaskError::Gone("container gone: x".into());
        let j = serde_json::to_string(&e).unwrap();
        assert_eq!(j, r#"{"kind":"gone","message":"container gone: x"}"#);
        assert_eq!(serde_json::from_str::<TaskError>(&j).unwrap(), e);
        let o = serde_json::to_string(&TaskError::Offline).unwrap();
        assert_eq!(
            serde_json::from_str::<TaskError>(&o).unwrap(),
            TaskError::Offline
        );
    }
}
