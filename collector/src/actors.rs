//! What an agent runs for the server besides pushing samples: the task
//! runner with this build's task kinds, and the desired-state converger
//! with its sections. The collector binary, the server's built-in
//! collector, tests and benchmarks all start them here.

use crate::agent::Agent;
use crate::desired::Converger;
use crate::docker::actions::Policy;
use crate::tasks::Registry;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Every task kind this build runs.
pub fn registry(policy: Policy) -> Registry {
    crate::docker::tasks::register(Registry::default(), policy)
}

/// What this build announces at enrolment (heartbeats then announce the
/// running agent's own). The kinds do not depend on the action policy,
/// which each task checks when it runs.
pub fn capabilities() -> dozor_common::protocol::Capabilities {
    dozor_common::protocol::Capabilities {
        protocol: dozor_common::protocol::PROTOCOL_VERSION,
        task_kinds: registry(Policy::default()).kinds(),
        desired_sections: Converger::standard().sections(),
    }
}

/// Starts the task runner and the converger for `agent`.
pub fn spawn(agent: &Arc<Agent>, policy: Policy, shutdown: &CancellationToken) {
    crate::tasks::spawn(agent.clone(), registry(policy), shutdown.clone());
    crate::desired::spawn(agent.clone(), Converger::standard(), shutdown.clone());
}
