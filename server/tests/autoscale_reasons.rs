//! Every autoscale decision that does not scale says why, against real
//! parts (Docker, the agent, nginx): max reached, min reached, an agent
//! that refuses actions on a container dozor does not manage (and the
//! policy backing off after it), a template that is gone, and stale data
//! once the agent stops.

use crate::support;

use serde_json::{json, Value};
use std::time::Duration;
use support::docker::{busybox, Cleanup};
use support::nginx::{replica, Nginx};
use support::*;

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn policy(&self, body: Value) {
        let r = self
            .http
            .put(format!("{}/api/v1/services/why/autoscale", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn events(&self) -> Vec<Value> {
        support::autoscale::scale_events(&self.base, &self.token, "why").await
    }

    /// Waits for an event whose `field` contains `text`.
    async fn said(&self, field: &str, text: &str) -> Value {
        eventually(40, || async {
            self.events()
                .await
                .into_iter()
                .find(|e| e[field].as_str().is_some_and(|r| r.contains(text)))
        })
        .await
    }
}

fn policy(expr: &str, min: u32, max: u32) -> Value {
    json!({
        "min": min, "max": max, "metric": "promql", "promql": expr,
        "up": {"threshold": 50.0, "for_s": 0, "step": 1, "cooldown_s": 0},
        "down": {"threshold": 10.0, "for_s": 0, "step": 1, "cooldown_s": 0},
        "drain_s": 0
    })
}

#[tokio::test]
async fn every_decision_that_does_not_scale_says_why() {
    let Some(image) = busybox("autoscale-why") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let run = format!("aw{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.autoscale_interval = Some(Duration::from_secs(1));
    })
    .await;
    let (_agent, stop, _) =
        support::nginx::start_agent(&server, "web-1", Duration::from_secs(1), &nginx, None).await;
    let api = Api {
        base: server.url(),
        token: api_token(&server, dozor_server::storage::Scope::Write).await,
        http: reqwest::Client::new(),
    };
    // Labelled for the service but not dozor.actions=true: the agent
    // (default --container-actions labelled) will not clone it.
    replica(&image.0, &run, &format!("aw-{run}-t"), "why");
    let r = api
        .http
        .post(format!("{}/api/v1/services", api.base))
        .bearer_auth(&api.token)
        .json(&json!({"name": "why", "host": "web-1", "domains": ["why.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    eventually(30, || async {
        nginx
            .get("why.test", "/")
            .await
            .1
            .contains("replica")
            .then_some(())
    })
    .await;

    api.policy(policy("vector(99)", 1, 1)).await;
    api.said("reason", "max reached (1)").await;

    api.policy(policy("vector(0)", 1, 2)).await;
    api.said("reason", "min reached (1)").await;

    api.policy(policy("vector(99)", 1, 2)).await;
    let refused = api.said("result", "not managed by dozor").await;
    assert_eq!(refused["kind"], "scale", "{refused}");
    assert_eq!(
        (refused["from"].as_u64(), refused["to"].as_u64()),
        (Some(1), Some(2))
    );
    api.said("reason", "backing off after 1 failed action(s)")
        .await;

    // By hand, with a template that does not exist.
    api.policy(json!({
        "min": 1, "max": 2, "metric": "promql", "promql": "vector(20)", "template": "nope",
        "up": {"threshold": 50.0, "for_s": 0, "step": 1, "cooldown_s": 0},
        "down": {"threshold": 10.0, "for_s": 0, "step": 1, "cooldown_s": 0}
    }))
    .await;
    let r = api
        .http
        .post(format!("{}/api/v1/services/why/scale", api.base))
        .bearer_auth(&api.token)
        .json(&json!({"replicas": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    api.said("result", "the template container nope is gone")
        .await;
    // Outside the policy's bounds: refused before anything happens.
    let r = api
        .http
        .post(format!("{}/api/v1/services/why/scale", api.base))
        .bearer_auth(&api.token)
        .json(&json!({"replicas": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The agent stops: its data goes stale, and nothing is decided on it.
    stop.cancel();
    let last = eventually(90, || async {
        let v: Value = api
            .http
            .get(format!("{}/api/v1/services/why/autoscale", api.base))
            .bearer_auth(&api.token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["last"]["decision"] == "stale").then_some(v)
    })
    .await;
    assert_eq!(last["policy"]["service"], "why");
    drop(server);
}
