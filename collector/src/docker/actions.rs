//! Start, stop and restart: the only things dozor changes through the
//! Docker socket. By default only containers labelled `dozor.actions=true`
//! may be touched (the socket is root on the host); `--container-actions`
//! widens that to all containers or turns actions off.

use bollard::query_parameters::{
    InspectContainerOptions, RestartContainerOptions, StartContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use dozor_common::containers::{
    ActionOutput, ActionRequest, MANAGED_LABEL, TASK_RESTART, TASK_START, TASK_STOP,
};
use dozor_common::tasks::TaskError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Policy {
    /// No start/stop/restart at all.
    None,
    /// Only containers labelled `dozor.actions=true`.
    #[default]
    Labelled,
    /// Any container on the host.
    All,
}

impl Policy {
    /// Why a container with these labels may not be touched, if it may
    /// not: the one rule both the actions and the inventory apply.
    pub fn refusal<'a>(
        self,
        container: &str,
        labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Option<String> {
        match self {
            Policy::None => Some(
                "container actions are off on this collector (--container-actions none)".into(),
            ),
            Policy::Labelled => {
                let managed = labels
                    .into_iter()
                    .any(|(k, v)| k == MANAGED_LABEL && v == "true");
                (!managed).then(|| {
                    format!(
                        "{container:?} is not managed by dozor: label it {MANAGED_LABEL}=true, or run the collector with --container-actions all"
                    )
                })
            }
            Policy::All => None,
        }
    }
}

pub async fn run(
    docker: &Docker,
    kind: &str,
    req: &ActionRequest,
    policy: Policy,
) -> Result<ActionOutput, TaskError> {
    let c = &req.container;
    // A stop waits out the container's own grace period, which may be
    // longer than the client's default two minutes.
    let docker = &docker
        .clone()
        .with_timeout(std::time::Duration::from_secs(15 * 60));
    let labels = match policy {
        // Only the labelled policy needs the container's labels.
        Policy::Labelled => docker
            .inspect_container(c, None::<InspectContainerOptions>)
            .await
            .map_err(|e| super::logs::describe(&e, c))?
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default(),
        _ => Default::default(),
    };
    if let Some(why) = policy.refusal(c, &labels) {
        return Err(TaskError::Refused(why));
    }
    let res = match kind {
        TASK_START => docker
            .start_container(c, None::<StartContainerOptions>)
            .await
            .map(|_| "started"),
        // No `t`: Docker then waits the container's own stop timeout
        // (`--stop-timeout`, 10 s unless set) before SIGKILL, so a
        // database given time to shut down cleanly gets it.
        TASK_STOP => docker
            .stop_container(
                c,
                Some(StopContainerOptions {
                    t: None,
                    signal: None,
                }),
            )
            .await
            .map(|_| "stopped"),
        TASK_RESTART => docker
            .restart_container(
                c,
                Some(RestartContainerOptions {
                    t: None,
                    signal: None,
                }),
            )
            .await
            .map(|_| "restarted"),
        other => return Err(TaskError::Invalid(format!("unknown action {other:?}"))),
    };
    let message = match res {
        Ok(done) => format!("{c} {done}"),
        // 304: already in the asked-for state.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => format!(
            "{c} was already {}",
            if kind == TASK_START {
                "running"
            } else {
                "stopped"
            }
        ),
        Err(e) => return Err(super::logs::describe(&e, c)),
    };
    Ok(ActionOutput { message })
}
