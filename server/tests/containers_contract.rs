//! The containers contract on both backends: inventories replace each
//! other and leave their changes on the timeline, Docker events land once
//! however often a heartbeat is retried, history is pruned without ever
//! letting a task id be handed out twice.

use crate::support;

use dozor_common::containers::{ContainerEvent, ContainerInfo};
use dozor_common::protocol::TaskResult;
use dozor_server::storage::{CreateAgent, NewAgent, NewTask, Store};
use support::now_ms;

fn info(name: &str, state: &str, image: &str) -> ContainerInfo {
    ContainerInfo {
        id: format!("id-{name}-{image}"),
        name: name.into(),
        image: image.into(),
        state: state.into(),
        ..Default::default()
    }
}

async fn agent(store: &Store, name: &str) -> i64 {
    let new = NewAgent {
        name: name.into(),
        key_hash: format!("key-{name}"),
        kind: "remote".into(),
        inventory: None,
    };
    match store.create_agent(&new, now_ms()).await.unwrap() {
        CreateAgent::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

async fn containers(store: Store) {
    let (a, b) = (agent(&store, "h1").await, agent(&store, "h2").await);
    let t = 1_000_000;
    let first = [
        info("web", "running", "nginx:1"),
        info("db", "running", "pg:15"),
    ];
    store.save_containers(a, &first, t).await.unwrap();
    store
        .save_containers(b, &[info("web", "running", "x:1")], t)
        .await
        .unwrap();
    // db stops, web is recreated from a new image, cron appears; a
    // repeated name keeps the first.
    let second = [
        info("web", "running", "nginx:2"),
        info("db", "exited", "pg:15"),
        info("cron", "created", "busybox"),
        info("cron", "running", "other"),
    ];
    store.save_containers(a, &second, t + 10).await.unwrap();
    let rows = store.containers(Some("h1")).await.unwrap();
    let names: Vec<_> = rows
        .iter()
        .map(|r| (r.info.name.as_str(), r.info.state.as_str()))
        .collect();
    assert_eq!(
        names,
        [("cron", "created"), ("db", "exited"), ("web", "running")]
    );
    assert!(rows
        .iter()
        .all(|r| r.host == "h1" && r.updated_ms == t + 10));
    assert_eq!(store.containers(None).await.unwrap().len(), 4, "both hosts");

    let timeline = |c: &'static str| {
        let store = store.clone();
        async move {
            store
                .container_events("h1", c, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.event.action, e.event.detail, e.source))
                .collect::<Vec<_>>()
        }
    };
    let inv = |a: &str, d: Option<&str>| {
        (
            a.to_string(),
            d.map(str::to_string),
            "inventory".to_string(),
        )
    };
    assert_eq!(
        timeline("db").await,
        [
            inv("state", Some("running → exited")),
            inv("appeared", Some("running"))
        ]
    );
    assert_eq!(
        timeline("web").await,
        [
            inv("recreated", Some("nginx:2")),
            inv("appeared", Some("running"))
        ]
    );
    store
        .save_containers(a, &second[..2], t + 20)
        .await
        .unwrap();
    assert_eq!(timeline("cron").await[0], inv("removed", None));

    // A retried heartbeat's events are stored once.
    let ev = |ts, action: &str| ContainerEvent {
        ts_ms: ts,
        container: "db".into(),
        action: action.into(),
        detail: Some("exit code 137".into()),
    };
    let events = [ev(t + 5, "die"), ev(t + 6, "oom")];
    store.add_container_events(a, &events).await.unwrap();
    store.add_container_events(a, &events).await.unwrap();
    let db = timeline("db").await;
    assert_eq!(db.iter().filter(|e| e.2 == "docker").count(), 2, "{db:?}");
    assert_eq!(
        db[1].0, "oom",
        "newest first: state at t+10, then oom at t+6"
    );
    assert!(
        store
            .container_events("h2", "db", 10)
            .await
            .unwrap()
            .is_empty(),
        "per host"
    );

    // Pruning: old events go; finished tasks go, but never the newest.
    let task = |n: i64| NewTask {
        agent_id: a,
        kind: "container.logs".into(),
        payload: serde_json::json!({ "n": n }),
        idempotency_key: None,
    };
    let now = now_ms();
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = store.enqueue_task(&task(n), now).await.unwrap();
        let r = TaskResult {
            task_id: id,
            ok: true,
            message: "ok".into(),
            output: serde_json::json!({"lines": []}),
            error: None,
        };
        store.take_tasks(a, now, 10).await.unwrap();
        assert!(store.finish_task(a, &r, now).await.unwrap());
        ids.push(id);
    }
    store.clear_task_result(ids[0]).await.unwrap();
    let cleared = store.task(ids[0]).await.unwrap().unwrap();
    assert_eq!((cleared.status.as_str(), cleared.result), ("done", None));
    let deleted = store.prune_container_history(t + 6, now + 1).await.unwrap();
    assert_eq!(
        deleted,
        4 + 2,
        "before t+6: three appearances and a die; two of three tasks"
    );
    assert!(
        store.task(ids[2]).await.unwrap().is_some(),
        "the newest task stays"
    );
    let next = store.enqueue_task(&task(9), now).await.unwrap();
    assert!(next > ids[2], "ids never go back: {next} after {}", ids[2]);
}

contract!(containers);
