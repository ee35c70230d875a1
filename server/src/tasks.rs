//! Tasks for agents, and the waiting on both ends: an agent long-polls
//! for its tasks (woken the moment one is queued for it), and a page that
//! queued a task waits for its result (woken the moment its result
//! arrives). This is what gets a log fetch from click to lines in well
//! under a second without a permanent stream. Each waiting page has its
//! own bell, keyed by task id, so one result wakes one page.

use crate::storage::{AgentRecord, NewTask, Result, StorageError, Store, TaskRecord};
use dozor_common::protocol::{Task, TaskResult};
pub use dozor_common::tasks::{TaskError, TaskKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::instrument;

/// Most tasks handed out per poll or heartbeat.
const MAX_PER_POLL: usize = 32;

/// An agent is online (and gets tasks) when its last heartbeat is this
/// recent (three default intervals plus slack).
pub const ONLINE_WINDOW_MS: i64 = 60_000;

/// The kinds every agent had before agents announced theirs (protocol 1).
const PROTOCOL_1_KINDS: [&str; 4] = [
    dozor_common::containers::TASK_LOGS,
    dozor_common::containers::TASK_START,
    dozor_common::containers::TASK_STOP,
    dozor_common::containers::TASK_RESTART,
];

/// Why a typed call did not produce an output.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct TaskHub {
    /// One bell per agent that is (or was) long-polling.
    bells: Mutex<HashMap<i64, Arc<Notify>>>,
    /// One bell per task someone is waiting on, so a result wakes only
    /// the page that asked for it.
    results: Mutex<HashMap<i64, Arc<Notify>>>,
    /// Cancelled at shutdown, so no long-poll holds the server open.
    closing: tokio_util::sync::CancellationToken,
    /// Polls and results per agent: far above what a busy log view needs,
    /// far below what a leaked key in a loop would do to the writer.
    pub limiter: governor::DefaultKeyedRateLimiter<i64>,
    /// When tasks are queued, taken and finished (and so how old they are).
    clock: crate::clock::Clock,
}

impl Default for TaskHub {
    fn default() -> Self {
        let n = |v: u32| std::num::NonZeroU32::new(v).expect("non-zero");
        Self {
            bells: Default::default(),
            results: Default::default(),
            closing: Default::default(),
            limiter: governor::RateLimiter::keyed(
                governor::Quota::per_second(n(20)).allow_burst(n(100)),
            ),
            clock: Default::default(),
        }
    }
}

impl TaskHub {
    pub fn with_clock(clock: crate::clock::Clock) -> Self {
        Self {
            clock,
            ..Self::default()
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Ends every wait now and from here on (the server is stopping).
    pub fn close(&self) {
        self.closing.cancel();
    }

    fn bell(&self, agent_id: i64) -> Arc<Notify> {
        self.bells
            .lock()
            .expect("bells lock")
            .entry(agent_id)
            .or_default()
            .clone()
    }

    /// Wakes the agent's long-poll (its desired state changed).
    pub fn ring(&self, agent_id: i64) {
        self.bell(agent_id).notify_waiters();
    }

    /// Queues a task of kind `K` for `agent` and wakes its long-poll.
    /// Refused (nothing queued) when the agent has been quiet for over a
    /// minute, or never announced that it can run `K`.
    pub async fn submit<K: TaskKind>(
        &self,
        store: &Store,
        agent: &AgentRecord,
        req: &K::Request,
        now_ms: i64,
    ) -> Result<i64, CallError> {
        if agent
            .last_seen_ms
            .is_none_or(|t| now_ms - t > ONLINE_WINDOW_MS)
        {
            return Err(TaskError::Offline.into());
        }
        let supported = match store.capabilities(agent.id).await? {
            Some(c) => c.task_kinds.iter().any(|k| k == K::NAME),
            None => PROTOCOL_1_KINDS.contains(&K::NAME),
        };
        if !supported {
            return Err(TaskError::Unsupported(K::NAME.to_string()).into());
        }
        let task = NewTask {
            agent_id: agent.id,
            kind: K::NAME.to_string(),
            payload: serde_json::to_value(req).expect("task requests serialise"),
            idempotency_key: None,
        };
        Ok(self.enqueue(store, &task).await?)
    }

    /// Task `id`'s outcome as `K`: None while it has none.
    pub async fn outcome<K: TaskKind>(
        &self,
        store: &Store,
        id: i64,
    ) -> Result<Option<Result<K::Output, TaskError>>> {
        Ok(store.task(id).await?.and_then(|t| decode::<K>(&t)))
    }

    /// [`Self::submit`], then waits up to `wait` for the outcome;
    /// `TimedOut` when there is none by then (it may still come).
    pub async fn call<K: TaskKind>(
        &self,
        store: &Store,
        agent: &AgentRecord,
        req: &K::Request,
        now_ms: i64,
        wait: Duration,
    ) -> Result<(i64, Result<K::Output, TaskError>), CallError> {
        let id = self.submit::<K>(store, agent, req, now_ms).await?;
        let done = self.wait_result(store, id, wait).await?;
        let out = done
            .as_ref()
            .and_then(decode::<K>)
            .unwrap_or(Err(TaskError::TimedOut));
        Ok((id, out))
    }

    /// Queues a task and wakes the agent's long-poll.
    #[instrument(skip_all, fields(agent_id = t.agent_id, kind = %t.kind))]
    pub async fn enqueue(&self, store: &Store, t: &NewTask) -> Result<i64> {
        let id = store.enqueue_task(t, self.now_ms()).await?;
        self.bell(t.agent_id).notify_waiters();
        Ok(id)
    }

    /// Tasks for the agent now, or as soon as one is queued within `wait`.
    #[instrument(skip_all, fields(agent_id))]
    pub async fn poll(&self, store: &Store, agent_id: i64, wait: Duration) -> Result<Vec<Task>> {
        let bell = self.bell(agent_id);
        let rung = bell.notified();
        tokio::pin!(rung);
        // Registered before looking, so a task queued in between still wakes us.
        rung.as_mut().enable();
        let tasks = store
            .take_tasks(agent_id, self.now_ms(), MAX_PER_POLL)
            .await?;
        if !tasks.is_empty() || wait.is_zero() {
            return Ok(tasks.into_iter().map(wire).collect());
        }
        tokio::select! {
            _ = tokio::time::timeout(wait, rung) => {}
            _ = self.closing.cancelled() => return Ok(Vec::new()),
        }
        let tasks = store
            .take_tasks(agent_id, self.now_ms(), MAX_PER_POLL)
            .await?;
        Ok(tasks.into_iter().map(wire).collect())
    }

    /// Stores a result and wakes whoever waits for one.
    pub async fn finish(&self, store: &Store, agent_id: i64, r: &TaskResult) -> Result<bool> {
        let known = store.finish_task(agent_id, r, self.now_ms()).await?;
        if known {
            let waiting = self
                .results
                .lock()
                .expect("results lock")
                .get(&r.task_id)
                .cloned();
            if let Some(n) = waiting {
                n.notify_waiters();
            }
        }
        Ok(known)
    }

    /// The task once it has a result, or as it stands after `timeout`.
    #[instrument(skip_all, fields(task_id = id))]
    pub async fn wait_result(
        &self,
        store: &Store,
        id: i64,
        timeout: Duration,
    ) -> Result<Option<TaskRecord>> {
        let bell = self
            .results
            .lock()
            .expect("results lock")
            .entry(id)
            .or_default()
            .clone();
        let out = self.wait_on(store, id, &bell, timeout).await;
        // Forget the bell once nobody holds it (two pages may wait on one id).
        let mut results = self.results.lock().expect("results lock");
        if Arc::strong_count(&bell) == 2 {
            results.remove(&id);
        }
        out
    }

    async fn wait_on(
        &self,
        store: &Store,
        id: i64,
        bell: &Notify,
        timeout: Duration,
    ) -> Result<Option<TaskRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            let done = bell.notified();
            tokio::pin!(done);
            // Registered before looking, so a result stored in between still wakes us.
            done.as_mut().enable();
            let t = store.task(id).await?;
            let finished = t.as_ref().is_none_or(|t| t.finished_ms.is_some());
            let left = deadline.saturating_duration_since(Instant::now());
            if finished || left.is_zero() {
                return Ok(t);
            }
            tokio::select! {
                _ = tokio::time::timeout(left, done) => {}
                _ = self.closing.cancelled() => return Ok(t),
            }
        }
    }
}

/// A finished task's result as `K`'s output or its error; None while it
/// runs. Agents before protocol 2 sent no typed error: their message is
/// kept as a failure.
fn decode<K: TaskKind>(t: &TaskRecord) -> Option<Result<K::Output, TaskError>> {
    t.finished_ms?;
    let r = t.result.as_ref()?;
    if r["ok"].as_bool() == Some(true) {
        Some(
            serde_json::from_value(r["output"].clone())
                .map_err(|e| TaskError::Failed(format!("unreadable answer from the agent: {e}"))),
        )
    } else {
        let typed = serde_json::from_value::<TaskError>(r["error"].clone()).ok();
        let message = r["message"].as_str().unwrap_or("failed").to_string();
        Some(Err(typed.unwrap_or(TaskError::Failed(message))))
    }
}

pub fn wire(t: TaskRecord) -> Task {
    Task {
        id: t.id,
        kind: t.kind,
        payload: t.payload,
        created_at: t.created_ms,
    }
}

/// A shared hub.
pub type Hub = Arc<TaskHub>;
