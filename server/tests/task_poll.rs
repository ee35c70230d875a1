//! The agents' task long-poll over HTTP: it answers as soon as a task is
//! queued (not at the end of the wait), a delivered task is not handed out
//! again while it may be running, results are taken once, pages refuse
//! to queue work for an agent that has gone quiet, and a server stopping
//! does not wait for open polls.

use crate::support;

use dozor_common::containers::{TASKS_PATH, TASK_RESULT_PATH};
use dozor_server::storage::NewTask;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn long_poll_wakes_on_a_task_and_lets_the_server_stop() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "poller").await;
    let agent = server.store.agent_by_name("poller").await.unwrap().unwrap();
    let http = reqwest::Client::new();
    let poll = |wait: u64| {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        async move {
            let r = http
                .get(format!("{base}{TASKS_PATH}?wait={wait}"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let r = reqwest::Client::new()
        .get(format!("{base}{TASKS_PATH}?wait=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the agent key is required");

    let started = Instant::now();
    let waiting = tokio::spawn(poll(20));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let task = NewTask {
        agent_id: agent.id,
        kind: "container.logs".into(),
        payload: json!({"container": "x"}),
        idempotency_key: None,
    };
    let id = server.task_hub.enqueue(&server.store, &task).await.unwrap();
    let got = waiting.await.unwrap();
    let took = started.elapsed();
    assert_eq!(got["tasks"][0]["id"], json!(id));
    assert!(
        took < Duration::from_secs(5),
        "woken by the task, not the 20 s wait: {took:?}"
    );
    assert_eq!(
        poll(0).await["tasks"],
        json!([]),
        "not again while it may be running"
    );

    let result =
        json!({"task_id": id, "ok": true, "message": "3 line(s)", "output": {"lines": []}});
    let post = |body: Value| {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        async move {
            http.post(format!("{base}{TASK_RESULT_PATH}"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let waiter = {
        let (hub, store) = (server.task_hub.clone(), server.store.clone());
        tokio::spawn(async move {
            hub.wait_result(&store, id, Duration::from_secs(20))
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(post(result.clone()).await, 204);
    let done = waiter.await.unwrap().unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(done.result.unwrap()["message"], "3 line(s)");
    assert_eq!(post(result).await, 204, "a repeat is accepted and ignored");
    assert_eq!(post(json!({"task_id": "x"})).await, 400);

    // An agent silent for over a minute: pages say so instead of waiting.
    server
        .store
        .touch_agent(agent.id, now_ms() - 120_000, None)
        .await
        .unwrap();
    let admin = web_session(&server).await;
    let r = support::web::get(&base, "/containers/logs?host=poller&name=web", &admin).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("agent offline: poller"),
        "{body}"
    );
    let form = [("host", "poller"), ("name", "web"), ("action", "start")];
    let (status, page) = support::web::post_form(&base, &admin, "/containers/action", &form).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Not done: agent poller is offline."),
        "{page}"
    );
    assert!(
        server
            .store
            .take_tasks(agent.id, now_ms(), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing queued"
    );

    // An open poll does not hold up shutdown.
    let _open = tokio::spawn(poll(50));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    server.shutdown().await;
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        t.elapsed()
    );
}
