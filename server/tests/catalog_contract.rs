//! The catalog contract (enrolment tokens, agents, tasks) on both backends.

use crate::support;

use dozor_common::protocol::TaskResult;
use dozor_server::storage::{CreateAgent, NewAgent, NewTask, Store};
use support::now_ms;

async fn catalog(store: Store) {
    let now = now_ms();
    store.create_enroll_token("h1", now).await.unwrap();
    assert!(store.enroll_token_valid("h1", now).await.unwrap());
    assert!(!store.enroll_token_valid("h2", now).await.unwrap());
    // Expiry and use counts.
    store
        .create_enroll_token_limited("once", now, Some(now + 1000), Some(1))
        .await
        .unwrap();
    assert!(
        !store.enroll_token_valid("once", now + 1000).await.unwrap(),
        "expired"
    );
    assert!(store.consume_enroll_token("once", now).await.unwrap());
    assert!(
        !store.consume_enroll_token("once", now).await.unwrap(),
        "used up"
    );
    assert!(!store.enroll_token_valid("once", now).await.unwrap());
    assert!(store.consume_enroll_token("h1", now).await.unwrap());
    assert!(
        store.consume_enroll_token("h1", now).await.unwrap(),
        "unlimited"
    );
    assert_eq!(store.revoke_enroll_tokens(now).await.unwrap(), 2);
    assert!(!store.enroll_token_valid("h1", now).await.unwrap());

    let new = |name: &str, key: &str| NewAgent {
        name: name.into(),
        key_hash: key.into(),
        kind: "remote".into(),
        inventory: Some(serde_json::json!({"hostname": name})),
    };
    let CreateAgent::Created(a) = store.create_agent(&new("web-1", "k1"), now).await.unwrap()
    else {
        panic!("created")
    };
    assert_eq!(
        store.create_agent(&new("web-1", "k2"), now).await.unwrap(),
        CreateAgent::NameTaken
    );
    assert_eq!(
        store.agent_by_key_hash("k1").await.unwrap().unwrap().name,
        "web-1"
    );
    assert!(store.revoke_agent("web-1", now).await.unwrap());
    assert!(store
        .agent_by_key_hash("k1")
        .await
        .unwrap()
        .unwrap()
        .revoked_ms
        .is_some());
    // Re-enrolling a revoked name re-keys the same agent.
    assert_eq!(
        store.create_agent(&new("web-1", "k3"), now).await.unwrap(),
        CreateAgent::Created(a)
    );
    assert!(store.agent_by_key_hash("k1").await.unwrap().is_none());
    store
        .touch_agent(a, now + 5, Some(&serde_json::json!({"hostname": "x"})))
        .await
        .unwrap();
    let rec = store.agent_by_name("web-1").await.unwrap().unwrap();
    assert_eq!((rec.last_seen_ms, rec.revoked_ms), (Some(now + 5), None));
    assert_eq!(rec.inventory.unwrap()["hostname"], "x");
    let CreateAgent::Created(other) = store.create_agent(&new("db-1", "k4"), now).await.unwrap()
    else {
        panic!("created")
    };
    assert_eq!(store.list_agents().await.unwrap().len(), 2);

    let task = |key: Option<&str>| NewTask {
        agent_id: a,
        kind: "noop".into(),
        payload: serde_json::json!({"n": 1}),
        idempotency_key: key.map(str::to_string),
    };
    let t1 = store.enqueue_task(&task(Some("once")), now).await.unwrap();
    assert_eq!(
        store.enqueue_task(&task(Some("once")), now).await.unwrap(),
        t1
    );
    let t2 = store.enqueue_task(&task(None), now).await.unwrap();
    let got = store.take_tasks(a, now, 10).await.unwrap();
    assert_eq!(got.iter().map(|t| t.id).collect::<Vec<_>>(), vec![t1, t2]);
    assert_eq!(got[0].payload, serde_json::json!({"n": 1}));
    assert_eq!(got[0].status, "delivered");
    assert!(store.take_tasks(other, now, 10).await.unwrap().is_empty());
    // At-least-once: not again while it may be running, but again once
    // it has gone unanswered for a while.
    assert!(store.take_tasks(a, now, 10).await.unwrap().is_empty());
    let later = now + dozor_server::storage::REDELIVER_AFTER_MS + 1;
    assert_eq!(store.take_tasks(a, later, 10).await.unwrap().len(), 2);
    let result = |id, ok| TaskResult {
        task_id: id,
        ok,
        message: "m".into(),
        output: serde_json::Value::Null,
        error: None,
    };
    assert!(
        !store
            .finish_task(other, &result(t1, true), now)
            .await
            .unwrap(),
        "not its task"
    );
    assert!(store.finish_task(a, &result(t1, true), now).await.unwrap());
    assert!(
        !store.finish_task(a, &result(t1, true), now).await.unwrap(),
        "only once"
    );
    assert!(store.finish_task(a, &result(t2, false), now).await.unwrap());
    assert!(store.take_tasks(a, later, 10).await.unwrap().is_empty());
    // Too old to deliver, by the server's clock.
    let stale = store.enqueue_task(&task(None), now).await.unwrap();
    let too_late = now + dozor_server::storage::TASK_MAX_AGE_MS + 1;
    assert!(store.take_tasks(a, too_late, 10).await.unwrap().is_empty());
    assert_eq!(store.task(stale).await.unwrap().unwrap().status, "pending");
    let done = store.task(t1).await.unwrap().unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(done.result.unwrap()["ok"], true);
    assert_eq!(store.task(t2).await.unwrap().unwrap().status, "failed");
}

contract!(catalog);
