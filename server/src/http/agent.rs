//! The agent protocol: enrolment (with a token), heartbeats, the task
//! long-poll and results, and the desired-state document (with the agent
//! key).

pub(crate) mod ingest;
pub(crate) mod tasks;

pub(crate) use super::auth::guard;
pub(crate) use super::{error, retry_later, storage_error, wait_time, AppState};
pub(crate) use ingest as agents;

use super::Paths;
use axum::routing::{get, post};
use axum::Router;
use dozor_common::containers::{TASKS_PATH, TASK_RESULT_PATH};
use dozor_common::protocol::{ENROLL_PATH, HEARTBEAT_PATH};

/// Every agent route. Heartbeats, enrolment and task results read their
/// bodies themselves, after their checks, with their own limits.
pub(super) fn routes(t: &Paths) -> Router<AppState> {
    Router::new()
        .route(t.add(ENROLL_PATH), post(ingest::enroll))
        .route(t.add(HEARTBEAT_PATH), post(ingest::heartbeat))
        .route(t.add(TASKS_PATH), get(tasks::poll))
        .route(
            t.add(dozor_common::desired::DESIRED_STATE_PATH),
            get(tasks::desired_state),
        )
        .route(t.add(TASK_RESULT_PATH), post(tasks::result))
}
