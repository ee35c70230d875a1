//! The container task kinds this agent runs: logs, start, stop, restart.
//! A container name reaches the Engine only if Docker would allow it (it
//! goes into the API's URL path); actions follow `--container-actions`.

use super::actions::{self, Policy};
use crate::tasks::Registry;
use dozor_common::containers::{
    valid_container_ref, ActionOutput, ActionRequest, ContainerLogs, RestartContainer,
    StartContainer, StopContainer, TASK_RESTART, TASK_START, TASK_STOP,
};
use dozor_common::tasks::TaskError;

fn checked(container: &str) -> Result<(), TaskError> {
    if valid_container_ref(container) {
        Ok(())
    } else {
        Err(TaskError::Invalid(format!(
            "not a container name: {container:?}"
        )))
    }
}

async fn docker() -> Result<bollard::Docker, TaskError> {
    super::connect().await.map_err(TaskError::Failed)
}

async fn action(kind: &str, req: ActionRequest, policy: Policy) -> Result<ActionOutput, TaskError> {
    checked(&req.container)?;
    actions::run(&docker().await?, kind, &req, policy).await
}

/// Adds the container kinds to `registry`.
pub fn register(registry: Registry, policy: Policy) -> Registry {
    registry
        .register::<ContainerLogs, _, _>(|req| async move {
            checked(&req.container)?;
            super::logs::fetch(&docker().await?, &req).await
        })
        .register::<StartContainer, _, _>(move |req| action(TASK_START, req, policy))
        .register::<StopContainer, _, _>(move |req| action(TASK_STOP, req, policy))
        .register::<RestartContainer, _, _>(move |req| action(TASK_RESTART, req, policy))
}
