//! A server that stops between storing a scale and queueing its task
//! neither loses the action nor runs it twice: restarted, it hands the
//! stored scale to the host once (the task is keyed by the event), a
//! second restart queues nothing new, and the host's answer settles it.

use crate::support;

use dozor_common::protocol::{Capabilities, HeartbeatRequest, TaskResult, PROTOCOL_VERSION};
use dozor_server::storage::ScaleEvent;
use serde_json::json;
use std::time::Duration;
use support::*;

async fn started(dir: &tempfile::TempDir) -> dozor_server::Server {
    spawn_server_with(dir, None, |c| {
        c.autoscale_interval = Some(Duration::from_millis(500));
    })
    .await
}

#[tokio::test]
async fn a_stored_scale_is_handed_over_once_across_restarts_and_settled_by_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let hb = HeartbeatRequest {
        capabilities: Some(Capabilities {
            protocol: PROTOCOL_VERSION,
            task_kinds: vec!["service.scale".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = post_heartbeat(&base, Some(&key), serde_json::to_vec(&hb).unwrap(), None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let token = api_token(&server, dozor_server::storage::Scope::Write).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(&token)
        .json(&json!({"name": "svc", "host": "web-1", "domains": ["svc.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // What a server that stopped right after storing the decision left.
    let id = server
        .store
        .add_scale_event(&ScaleEvent {
            id: 0,
            service: "svc".into(),
            ts_ms: now_ms(),
            kind: "scale".into(),
            direction: "up".into(),
            from: 1,
            to: 2,
            value: Some(91.0),
            reason: "cpu above 80".into(),
            dry_run: false,
            actor: "policy".into(),
            task_id: None,
            result: None,
            finished_ms: None,
        })
        .await
        .unwrap();
    server.shutdown().await;

    let server = started(&dir).await;
    let task = eventually(20, || async {
        let e = server.store.scale_events(Some("svc"), 0).await.unwrap();
        e.iter().find(|e| e.id == id).and_then(|e| e.task_id)
    })
    .await;
    server.shutdown().await;
    let server = started(&dir).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let e = server.store.scale_events(Some("svc"), 0).await.unwrap();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].task_id, Some(task), "the same task, not a second one");

    // The agent gets exactly one task, and its answer settles the scale.
    let base = server.url();
    let scales = support::autoscale::scale_tasks(&base, &key).await;
    assert_eq!(scales.len(), 1, "{scales:?}");
    assert_eq!(scales[0]["id"], task);
    assert_eq!(scales[0]["payload"]["replicas"], 2);
    let result = TaskResult {
        task_id: task,
        ok: true,
        message: String::new(),
        output: json!({"before": 1, "after": 2, "created": ["svc-r1"], "removed": []}),
        error: None,
    };
    support::autoscale::answer(&base, &key, &result).await;
    eventually(20, || async {
        let e = server.store.scale_events(Some("svc"), 0).await.unwrap();
        (e[0].result.as_deref() == Some("ok")).then_some(())
    })
    .await;
    server.shutdown().await;
}
