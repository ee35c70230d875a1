//! Running the server's tasks. A long-poll brings each task within a
//! second of its creation (tasks that ride on heartbeats are handed over
//! too); each runs in its own task and its result is posted as soon as it
//! is done. Only the kinds below are known; anything else is refused.
//! (Tasks that waited too long are never delivered: the server decides
//! that on its own clock.)

use crate::agent::{Agent, Backoff};
use crate::docker::actions::{self, Policy};
use crate::sink::SendError;
use dozor_common::containers::{
    valid_container_ref, ActionRequest, LogsRequest, TASK_LOGS, TASK_RESTART, TASK_START, TASK_STOP,
};
use dozor_common::protocol::{Task, TaskResult};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const POLL_WAIT: Duration = Duration::from_secs(25);

/// Remembers recent task ids so a re-delivered task is not run twice.
#[derive(Default)]
pub struct SeenTasks {
    set: HashSet<i64>,
    order: VecDeque<i64>,
}

impl SeenTasks {
    pub fn first_time(&mut self, id: i64) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > 4096 {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

fn result(id: i64, r: Result<(String, serde_json::Value), String>) -> TaskResult {
    match r {
        Ok((message, output)) => TaskResult {
            task_id: id,
            ok: true,
            message,
            output,
        },
        Err(message) => TaskResult {
            task_id: id,
            ok: false,
            message,
            output: serde_json::Value::Null,
        },
    }
}

/// Runs one task to its result.
pub async fn run(t: &Task, policy: Policy) -> TaskResult {
    let container = t
        .payload
        .get("container")
        .and_then(|c| c.as_str())
        .unwrap_or("");
    let known = [TASK_LOGS, TASK_START, TASK_STOP, TASK_RESTART].contains(&t.kind.as_str());
    if known && !valid_container_ref(container) {
        return result(t.id, Err(format!("not a container name: {container:?}")));
    }
    let out = match t.kind.as_str() {
        TASK_LOGS => match serde_json::from_value::<LogsRequest>(t.payload.clone()) {
            Err(e) => Err(format!("bad logs request: {e}")),
            Ok(req) => match crate::docker::connect().await {
                Err(e) => Err(e),
                Ok(d) => crate::docker::logs::fetch(&d, &req).await.map(|o| {
                    let n = o.lines.len();
                    (
                        format!("{n} line(s)"),
                        serde_json::to_value(o).unwrap_or_default(),
                    )
                }),
            },
        },
        TASK_START | TASK_STOP | TASK_RESTART => {
            match serde_json::from_value::<ActionRequest>(t.payload.clone()) {
                Err(e) => Err(format!("bad action request: {e}")),
                Ok(req) => match crate::docker::connect().await {
                    Err(e) => Err(e),
                    Ok(d) => actions::run(&d, &t.kind, &req, policy)
                        .await
                        .map(|m| (m, serde_json::Value::Null)),
                },
            }
        }
        other => Err(format!("unsupported task kind {other:?}")),
    };
    if let Err(e) = &out {
        tracing::warn!(task_id = t.id, kind = %t.kind, error = %e, "task failed");
    }
    result(t.id, out)
}

/// Posts a result, retrying while the server is away (bounded: a result
/// nobody waits for any more is not worth an endless loop).
async fn report(agent: &Agent, r: TaskResult) {
    let mut backoff = Backoff::new();
    for _ in 0..8 {
        match agent.sink().send_result(&r).await {
            Ok(()) => return,
            Err(SendError::Retry { message, after }) => {
                tracing::warn!(task_id = r.task_id, error = %message, "task result not delivered; retrying");
                tokio::time::sleep(after.unwrap_or_else(|| backoff.next_delay())).await;
            }
            Err(e) => {
                tracing::warn!(task_id = r.task_id, error = %e, "task result refused");
                return;
            }
        }
    }
}

/// Starts the long-poll (when the sink has one) and the runner, which
/// also takes tasks that came with heartbeats.
pub fn spawn(agent: Arc<Agent>, policy: Policy, shutdown: CancellationToken) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Task>();
    agent.set_task_sender(tx.clone());
    let poller = agent.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut backoff = Backoff::new();
        loop {
            let polled = tokio::select! {
                _ = stop.cancelled() => return,
                p = poller.sink().poll_tasks(POLL_WAIT) => p,
            };
            let wait = match polled {
                None => return,
                Some(Ok(tasks)) => {
                    backoff.reset();
                    for t in tasks {
                        let _ = tx.send(t);
                    }
                    continue;
                }
                Some(Err(SendError::Retry { after, .. })) => {
                    after.unwrap_or_else(|| backoff.next_delay())
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "task poll refused; trying again in a minute");
                    Duration::from_secs(60)
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    });
    tokio::spawn(async move {
        let mut seen = SeenTasks::default();
        loop {
            let t = tokio::select! {
                _ = shutdown.cancelled() => return,
                t = rx.recv() => match t { Some(t) => t, None => return },
            };
            if !seen.first_time(t.id) {
                continue;
            }
            let agent = agent.clone();
            tokio::spawn(async move {
                let r = run(&t, policy).await;
                report(&agent, r).await;
            });
        }
    });
}
