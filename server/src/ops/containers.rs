//! Containers: log lines on demand (any signed-in user) and start, stop,
//! restart (admins, audited), each a typed task for the host's agent.

use super::{Actor, OpError, OpResult, Ops};
use crate::storage::{AgentRecord, Role};
use crate::tasks::{CallError, TaskError};
use dozor_common::containers::{
    rfc3339_nanos, valid_container_ref, ActionOutput, ActionRequest, ContainerLogs, LogsOutput,
    LogsRequest, RestartContainer, StartContainer, StopContainer, TASK_RESTART, TASK_START,
    TASK_STOP,
};
use dozor_common::tasks::TaskKind;
use std::time::Duration;

/// Lines and bytes one fetch may return.
pub const MAX_LINES: u32 = 1000;
pub const MAX_BYTES: u32 = 1 << 20;
/// How long a log fetch waits for the agent.
pub const LOGS_WAIT: Duration = Duration::from_secs(10);
/// How long an action's request waits before showing "queued"; stop and
/// restart may take the container's stop timeout.
pub const ACTION_WAIT: Duration = Duration::from_secs(20);

impl From<CallError> for OpError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Task(t) => OpError::Task(t),
            CallError::Storage(s) => OpError::Storage(s),
        }
    }
}

/// A live (not revoked) agent by name.
pub async fn agent(ops: &Ops, host: &str) -> OpResult<AgentRecord> {
    match ops.store().agent_by_name(host).await? {
        Some(a) if a.revoked_ms.is_none() => Ok(a),
        _ => Err(OpError::NotFound(format!(
            "no active agent called {host:?}"
        ))),
    }
}

fn container(name: &str) -> OpResult<()> {
    if valid_container_ref(name) {
        Ok(())
    } else {
        Err(OpError::Invalid(format!("not a container name: {name:?}")))
    }
}

/// What the log view asks for.
#[derive(Debug, Clone)]
pub struct LogsQuery {
    pub host: String,
    pub container: String,
    pub tail: u32,
    pub since: Option<String>,
    pub stdout: bool,
    pub stderr: bool,
}

/// Lines of a container's log. Each fetch is Docker work on the host, so
/// users are rate-limited.
pub async fn logs(ops: &Ops, actor: &Actor, q: LogsQuery) -> OpResult<LogsOutput> {
    Ops::require(actor, Role::Viewer)?;
    ops.limit_user_tasks(&actor.name)?;
    container(&q.container)?;
    if q.tail == 0 {
        return Err(OpError::Invalid(
            "tail must be a whole number from 1".into(),
        ));
    }
    if let Some(c) = &q.since {
        if rfc3339_nanos(c).is_none() {
            return Err(OpError::Invalid(format!("bad cursor {c:?}")));
        }
    }
    let agent = agent(ops, &q.host).await?;
    let req = LogsRequest {
        container: q.container,
        tail: q.tail.min(MAX_LINES),
        since: q.since,
        stdout: q.stdout,
        stderr: q.stderr,
        max_lines: MAX_LINES,
        max_bytes: MAX_BYTES,
    };
    let (id, out) = ops
        .tasks()
        .call::<ContainerLogs>(ops.store(), &agent, &req, ops.now_ms(), LOGS_WAIT)
        .await?;
    if !matches!(out, Err(TaskError::TimedOut)) {
        // The answer is this caller's alone: no need to keep it.
        if let Err(e) = ops.store().clear_task_result(id).await {
            tracing::warn!(error = %e, task_id = id, "a log answer could not be dropped; maintenance will");
        }
    }
    Ok(out?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    pub fn parse(s: &str) -> OpResult<Self> {
        match s {
            "start" => Ok(Action::Start),
            "stop" => Ok(Action::Stop),
            "restart" => Ok(Action::Restart),
            other => Err(OpError::Invalid(format!(
                "unknown action {other:?}; use start, stop or restart"
            ))),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Action::Start => TASK_START,
            Action::Stop => TASK_STOP,
            Action::Restart => TASK_RESTART,
        }
    }

    /// Stop and restart interrupt a service: the UI asks first.
    pub fn needs_confirmation(self) -> bool {
        self != Action::Start
    }
}

/// Starts, stops or restarts a container; returns the task id once the
/// agent answered or `ACTION_WAIT` passed (the outcome is read with
/// [`action_outcome`]). Audited with the task id before it runs.
pub async fn act(
    ops: &Ops,
    actor: &Actor,
    host: &str,
    name: &str,
    action: Action,
) -> OpResult<i64> {
    Ops::require(actor, Role::Admin)?;
    container(name)?;
    let agent = agent(ops, host).await?;
    let req = ActionRequest {
        container: name.to_string(),
    };
    let (store, hub, now) = (ops.store(), ops.tasks(), ops.now_ms());
    let id = match action {
        Action::Start => {
            hub.submit::<StartContainer>(store, &agent, &req, now)
                .await?
        }
        Action::Stop => {
            hub.submit::<StopContainer>(store, &agent, &req, now)
                .await?
        }
        Action::Restart => {
            hub.submit::<RestartContainer>(store, &agent, &req, now)
                .await?
        }
    };
    ops.audit(
        actor,
        action.kind(),
        Some(format!("{host}/{name} task {id}")),
    )
    .await;
    hub.wait_result(store, id, ACTION_WAIT).await?;
    Ok(id)
}

/// What became of action task `id`, waiting up to `wait` for it: None when
/// the id is not an action on this container of this host (or unknown);
/// `Some(Err(TimedOut))` while it runs.
pub async fn action_outcome(
    ops: &Ops,
    id: i64,
    host: &str,
    name: &str,
    wait: Duration,
) -> OpResult<Option<Result<ActionOutput, TaskError>>> {
    let Some(t) = ops.tasks().wait_result(ops.store(), id, wait).await? else {
        return Ok(None);
    };
    let ours = [
        StartContainer::NAME,
        StopContainer::NAME,
        RestartContainer::NAME,
    ]
    .contains(&t.kind.as_str())
        && t.payload["container"] == name
        && matches!(agent(ops, host).await, Ok(a) if a.id == t.agent_id);
    if !ours {
        return Ok(None);
    }
    // The three kinds answer alike.
    Ok(Some(
        ops.tasks()
            .outcome::<StartContainer>(ops.store(), id)
            .await?
            .unwrap_or(Err(TaskError::TimedOut)),
    ))
}
