//! Protocol 2 over real HTTP: agents announce what they can do (at
//! enrolment and in heartbeats) and the server never queues a task an
//! agent cannot run; each host's desired state has a generation that
//! moves only when its document changes, and what the agent applied is
//! recorded. Protocol 1 agents keep getting scrape targets in heartbeats.

use crate::support;

use dozor_common::containers::{ActionRequest, ContainerLogs, LogsRequest, RestartContainer};
use dozor_common::protocol::{Capabilities, PROTOCOL_VERSION};
use dozor_common::tasks::TaskError;
use dozor_server::ops::{targets, Actor};
use dozor_server::storage::AgentRecord;
use dozor_server::tasks::CallError;
use serde_json::json;
use support::*;

fn heartbeat(extra: serde_json::Value) -> Vec<u8> {
    let mut body = json!({"series": []});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    zstd_json(&body)
}

async fn agent(server: &dozor_server::Server, name: &str) -> AgentRecord {
    server.store.agent_by_name(name).await.unwrap().unwrap()
}

fn logs() -> LogsRequest {
    LogsRequest {
        container: "web".into(),
        tail: 10,
        since: None,
        stdout: true,
        stderr: true,
        max_lines: 10,
        max_bytes: 10_000,
    }
}

/// Enrols without announcing anything, as a protocol 1 collector does.
async fn enroll_v1(base: &str, token: &str, name: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/agents/enroll"))
        .json(&json!({"token": token, "name": name}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["agent_key"].as_str().expect("enrolled").to_string()
}

#[tokio::test]
async fn tasks_an_agent_cannot_run_are_never_queued() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let web1 = agent(&server, "web-1").await;

    // Known from enrolment, before any heartbeat.
    let caps = server.store.capabilities(web1.id).await.unwrap().unwrap();
    assert_eq!(caps.protocol, PROTOCOL_VERSION);
    assert!(caps.task_kinds.iter().any(|k| k == "container.restart"));
    assert!(caps.desired_sections.iter().any(|s| s == "scrape_targets"));

    // Not heard from since enrolment: offline, nothing queued.
    let hub = &server.task_hub;
    let now = now_ms();
    let req = ActionRequest {
        container: "web".into(),
    };
    let offline = hub
        .submit::<RestartContainer>(&server.store, &web1, &req, now)
        .await;
    assert!(
        matches!(offline, Err(CallError::Task(TaskError::Offline))),
        "{offline:?}"
    );

    // An agent that announces only logs.
    let only_logs = Capabilities {
        protocol: PROTOCOL_VERSION,
        task_kinds: vec!["container.logs".into()],
        desired_sections: vec!["scrape_targets".into()],
        nginx: None,
    };
    let r = post_heartbeat(
        &base,
        Some(&key),
        heartbeat(json!({ "capabilities": only_logs })),
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(
        r.json.get("scrape_targets").is_none(),
        "protocol 2 agents read targets from the desired state: {}",
        r.json
    );
    assert_eq!(
        server.store.capabilities(web1.id).await.unwrap(),
        Some(only_logs)
    );
    let web1 = agent(&server, "web-1").await;
    let refused = hub
        .submit::<RestartContainer>(&server.store, &web1, &req, now_ms())
        .await;
    match refused {
        Err(CallError::Task(e @ TaskError::Unsupported(_))) => {
            assert_eq!(e.status(), 501);
            assert!(e.to_string().contains("upgrade its collector"), "{e}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let queued = hub
        .poll(&server.store, web1.id, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(queued.is_empty(), "nothing queued: {queued:?}");
    let id = hub
        .submit::<ContainerLogs>(&server.store, &web1, &logs(), now_ms())
        .await
        .expect("a kind it announced");
    let queued = hub
        .poll(&server.store, web1.id, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|t| (t.id, t.kind.as_str()))
            .collect::<Vec<_>>(),
        vec![(id, "container.logs")]
    );

    // A protocol 1 agent: the container kinds of its time, and targets in
    // every heartbeat answer.
    let old_key = enroll_v1(&base, &enroll_token(&server), "old-1").await;
    let r = post_heartbeat(&base, Some(&old_key), heartbeat(json!({})), Some("zstd")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["scrape_targets"], json!([]), "{}", r.json);
    let old = agent(&server, "old-1").await;
    assert_eq!(server.store.capabilities(old.id).await.unwrap(), None);
    hub.submit::<RestartContainer>(&server.store, &old, &req, now_ms())
        .await
        .expect("protocol 1 agents restart containers");
}

#[tokio::test]
async fn desired_state_generation_moves_only_when_the_document_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let id = agent(&server, "web-1").await.id;
    let generation = |r: &Reply| r.json["desired_generation"].as_u64().expect("a generation");
    let beat =
        || async { post_heartbeat(&base, Some(&key), heartbeat(json!({})), Some("zstd")).await };

    let first = generation(&beat().await);
    assert_eq!(generation(&beat().await), first, "nothing changed");

    // A target for the host: a new generation, and the document has it.
    let ops = dozor_server::app::cli_ops(&server.store);
    targets::create(
        &ops,
        &Actor::cli(),
        targets::NewTarget {
            host: "web-1".into(),
            job: "app".into(),
            url: "http://127.0.0.1:9/metrics".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let second = generation(&beat().await);
    assert_eq!(second, first + 1);
    let doc: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/agents/desired-state"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["generation"], second);
    assert_eq!(
        doc["sections"]["scrape_targets"][0]["url"],
        "http://127.0.0.1:9/metrics"
    );
    // Without the agent's key: refused.
    let anon = reqwest::Client::new()
        .get(format!("{base}/api/v1/agents/desired-state"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // The agent reports what it applied, with an error.
    let r = post_heartbeat(
        &base,
        Some(&key),
        heartbeat(json!({
            "desired_applied": {"generation": second, "error": "scrape_targets: bad URL"}
        })),
        Some("zstd"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let status = server.store.desired_status(id).await.unwrap().unwrap();
    assert_eq!(
        (
            status.generation,
            status.applied_generation,
            status.applied_error.as_deref()
        ),
        (second, Some(second), Some("scrape_targets: bad URL"))
    );
    // The host page says so.
    let cookie = web_session(&server).await;
    let page = support::web::get(&base, "/hosts/web-1", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "generation {second} failed: scrape_targets: bad URL"
        )),
        "{page}"
    );
    assert!(page.contains("container.restart"), "task kinds shown");
}
