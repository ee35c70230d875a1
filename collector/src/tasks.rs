//! Running the server's tasks. A long-poll brings each task within a
//! second of its creation (tasks that ride on heartbeats are handed over
//! too); the registry's handler for its kind runs it and the result is
//! posted as soon as it is done. Kinds without a handler are refused.
//! (Tasks that waited too long are never delivered: the server decides
//! that on its own clock.) Memory is bounded: at most `QUEUED` tasks wait
//! and `RUNNING` run; a task dropped for lack of room is delivered again
//! by the server, since it got no result.

mod registry;

pub use registry::Registry;

use crate::agent::{Agent, Backoff};
use crate::sink::SendError;
use dozor_common::protocol::{Task, TaskResult};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const POLL_WAIT: Duration = Duration::from_secs(25);
/// Tasks waiting for a runner.
pub const QUEUED: usize = 256;
/// Tasks running at once.
pub const RUNNING: usize = 16;

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

/// Hands a task to the runner; false when the queue is full (the server
/// delivers it again, since it gets no result).
pub fn hand_over(tx: &mpsc::Sender<Task>, t: Task) -> bool {
    match tx.try_send(t) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(t)) => {
            tracing::warn!(
                task_id = t.id,
                "task queue full; the server will deliver it again"
            );
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Starts the long-poll (when the sink has one) and the runner, which
/// also takes tasks that came with heartbeats.
pub fn spawn(agent: Arc<Agent>, registry: Registry, shutdown: CancellationToken) {
    let (tx, rx) = mpsc::channel::<Task>(QUEUED);
    agent.set_task_runner(tx.clone(), registry.kinds());
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
                Some(Ok(batch)) => {
                    backoff.reset();
                    if let Some(g) = batch.desired_generation {
                        poller.desired_named(g);
                    }
                    for t in batch.tasks {
                        hand_over(&tx, t);
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
    tokio::spawn(run(agent, registry, rx, shutdown));
}

/// Runs what arrives on `rx`, each task id once, at most `RUNNING` at a
/// time, until shutdown or until every sender is gone.
pub async fn run(
    agent: Arc<Agent>,
    registry: Registry,
    mut rx: mpsc::Receiver<Task>,
    shutdown: CancellationToken,
) {
    let mut seen = SeenTasks::default();
    let slots = Arc::new(Semaphore::new(RUNNING));
    let mut running = JoinSet::new();
    loop {
        let t = tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = running.join_next(), if !running.is_empty() => continue,
            t = rx.recv() => match t { Some(t) => t, None => break },
        };
        if !seen.first_time(t.id) {
            continue;
        }
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            s = slots.clone().acquire_owned() => s.expect("never closed"),
        };
        let (agent, registry) = (agent.clone(), registry.clone());
        running.spawn(async move {
            let r = registry.run(&t).await;
            report(&agent, r).await;
            drop(slot);
        });
    }
    // When the senders are gone, the tasks already running finish; on
    // shutdown they are stopped with the agent.
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            done = running.join_next() => if done.is_none() { break },
        }
    }
    running.shutdown().await;
}

#[cfg(test)]
mod tests;

/// Without a task runner no kind is supported; answering keeps the
/// server's queue honest instead of leaving tasks pending for ever.
pub fn unsupported(t: Task) -> TaskResult {
    let e = dozor_common::tasks::TaskError::Unsupported(t.kind.clone());
    tracing::warn!(task_id = t.id, kind = %t.kind, "no task runner");
    TaskResult {
        task_id: t.id,
        ok: false,
        message: e.to_string(),
        output: serde_json::Value::Null,
        error: Some(e),
    }
}
