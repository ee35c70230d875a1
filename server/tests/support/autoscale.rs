//! What the autoscaling tests ask of the server as an editor and as a
//! host: the scale events over the API, the host's scale tasks, and the
//! host's answer to one.

use dozor_common::protocol::TaskResult;
use serde_json::Value;

/// `/api/v1/services/{service}/scale-events`, oldest first.
pub async fn scale_events(base: &str, token: &str, service: &str) -> Vec<Value> {
    let v: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/services/{service}/scale-events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["events"].as_array().cloned().unwrap_or_default()
}

/// The host's pending `service.scale` tasks (a poll that does not wait).
pub async fn scale_tasks(base: &str, agent_key: &str) -> Vec<Value> {
    let polled: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/agents/tasks?wait=0"))
        .bearer_auth(agent_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    polled["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t["kind"] == "service.scale")
        .collect()
}

/// The host's answer to a task, as its agent posts it.
pub async fn answer(base: &str, agent_key: &str, result: &TaskResult) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/agents/task-result"))
        .bearer_auth(agent_key)
        .json(result)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}
