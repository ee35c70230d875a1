//! The runner's bounds: a full queue refuses instead of growing, at most
//! `RUNNING` tasks run at once, each id runs once, and every task handed
//! over gets its result.

use super::*;
use crate::agent::AgentConfig;
use crate::proc::HostInput;
use crate::sink::Sink;
use async_trait::async_trait;
use dozor_common::protocol::{HeartbeatRequest, HeartbeatResponse};
use dozor_common::tasks::{TaskError, TaskKind};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Takes results; nothing else.
#[derive(Default)]
struct Results(Mutex<Vec<TaskResult>>);

#[async_trait]
impl Sink for Results {
    async fn send(&self, _req: HeartbeatRequest) -> Result<HeartbeatResponse, SendError> {
        Err(SendError::Rejected("results only".into()))
    }

    async fn send_result(&self, r: &TaskResult) -> Result<(), SendError> {
        self.0.lock().unwrap().push(r.clone());
        Ok(())
    }
}

struct Wait;
#[derive(Serialize, Deserialize)]
struct Nothing {}
impl TaskKind for Wait {
    const NAME: &'static str = "test.wait";
    type Request = Nothing;
    type Output = Nothing;
}

fn task(id: i64) -> Task {
    Task {
        id,
        kind: Wait::NAME.into(),
        payload: serde_json::json!({}),
        created_at: 0,
    }
}

#[tokio::test]
async fn queue_and_concurrency_are_bounded_and_nothing_is_lost() {
    let sink = Arc::new(Results::default());
    let agent = Agent::new(HostInput::new("/"), sink.clone(), AgentConfig::default());
    let gate = Arc::new(Semaphore::new(0));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let registry = {
        let (gate, now, most) = (gate.clone(), now.clone(), most.clone());
        Registry::default().register::<Wait, _, _>(move |_: Nothing| {
            let (gate, now, most) = (gate.clone(), now.clone(), most.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                gate.acquire().await.expect("open").forget();
                now.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, TaskError>(Nothing {})
            }
        })
    };

    // Nobody is taking tasks yet: the queue takes QUEUED and refuses the
    // rest (the server delivers those again), instead of growing.
    let (tx, rx) = mpsc::channel(QUEUED);
    let accepted = (1..=QUEUED as i64 + 40)
        .filter(|id| hand_over(&tx, task(*id)))
        .count();
    assert_eq!(accepted, QUEUED);

    let stop = CancellationToken::new();
    let runner = tokio::spawn(run(agent, registry, rx, stop.clone()));
    // The runner starts RUNNING of them and holds the rest.
    for _ in 0..200 {
        if now.load(Ordering::SeqCst) == RUNNING {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(now.load(Ordering::SeqCst), RUNNING);
    // A task delivered again (by the long-poll and a heartbeat) runs once.
    for id in 1..=5 {
        tx.send(task(id)).await.unwrap();
    }
    drop(tx);
    gate.add_permits(QUEUED + 10);
    tokio::time::timeout(Duration::from_secs(10), runner)
        .await
        .expect("the runner finishes what it took")
        .unwrap();
    assert_eq!(most.load(Ordering::SeqCst), RUNNING, "never more at once");
    let mut ids: Vec<i64> = sink.0.lock().unwrap().iter().map(|r| r.task_id).collect();
    ids.sort();
    assert_eq!(ids, (1..=QUEUED as i64).collect::<Vec<_>>());
    assert!(sink.0.lock().unwrap().iter().all(|r| r.ok));
}
