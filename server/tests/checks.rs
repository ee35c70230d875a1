//! Checks end to end: defined through the API, published to the agent in
//! its desired state, run against real local endpoints (up, body
//! mismatch, slower than the timeout, nothing listening), stored under
//! blackbox_exporter's names and shown with their uptime on the Checks
//! screen. A private target needs an admin.

use crate::support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

/// An HTTP server answering every request after `delay` with `body`.
async fn endpoint(body: &'static str, delay: Duration) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

async fn query(base: &str, token: &str, q: &str) -> Option<f64> {
    let v: Value = reqwest::Client::new()
        .get(format!("{base}/prometheus/api/v1/query"))
        .bearer_auth(token)
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_run_on_their_agents_and_report_like_blackbox_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let options = dozor_collector::nginx::Options::default();
    let (_agent, stop, _) =
        support::nginx::start_agent_with(&server, "web-1", Duration::from_secs(1), options, None)
            .await;
    let admin = api_token(&server, dozor_server::storage::Scope::Admin).await;
    let editor = api_token(&server, dozor_server::storage::Scope::Write).await;
    let healthy = endpoint("healthy", Duration::ZERO).await;
    let slow = endpoint("late", Duration::from_secs(3)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = reqwest::Client::new();
    let post = |token: &str, body: Value| {
        let (http, base, token) = (http.clone(), base.clone(), token.to_string());
        async move {
            let r = http
                .post(format!("{base}/api/v1/checks"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    // 127.0.0.1 is inside the host's network: editors may not probe it.
    let up = json!({"name": "up", "target": format!("http://127.0.0.1:{healthy}/health"),
                    "interval_s": 5, "timeout_s": 2, "body_match": "healthy"});
    assert_eq!(post(&editor, up.clone()).await.0, 403);
    assert_eq!(post(&admin, up).await.0, 201);
    for body in [
        json!({"name": "mismatch", "target": format!("http://127.0.0.1:{healthy}/"),
               "interval_s": 5, "timeout_s": 2, "body_match": "nope"}),
        json!({"name": "slow", "target": format!("http://127.0.0.1:{slow}/"),
               "interval_s": 5, "timeout_s": 1}),
        json!({"name": "down", "kind": "tcp", "target": format!("127.0.0.1:{closed}"),
               "interval_s": 5, "timeout_s": 1, "agents": ["web-1"]}),
        json!({"name": "elsewhere", "kind": "tcp", "target": format!("127.0.0.1:{healthy}"),
               "interval_s": 5, "timeout_s": 1, "agents": ["web-2"]}),
    ] {
        let (status, text) = post(&admin, body).await;
        assert_eq!(status, 201, "{text}");
    }
    let (status, text) = post(
        &admin,
        json!({"name": "bad", "target": "http://x/", "interval_s": 1}),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("interval"), "{text}");

    let want = [("up", 1.0), ("mismatch", 0.0), ("slow", 0.0), ("down", 0.0)];
    eventually(30, || async {
        for (name, v) in want {
            let q = format!(r#"probe_success{{check="{name}"}}"#);
            if query(&base, &admin, &q).await != Some(v) {
                return None;
            }
        }
        Some(())
    })
    .await;
    let q = r#"probe_http_status_code{check="up",instance=~"http://127.0.0.1:.*/health"}"#;
    assert_eq!(query(&base, &admin, q).await, Some(200.0));
    // Only the agents a check names run it.
    assert_eq!(
        query(&base, &admin, r#"probe_success{check="elsewhere"}"#).await,
        None
    );

    let cookie = web_session(&server).await;
    let page = support::web::get(&base, "/checks", &cookie)
        .await
        .text()
        .await
        .unwrap();
    let row = page.split("<td>up</td>").nth(1).unwrap_or("");
    assert!(
        row.contains("badge ok") && row.contains("100.000%"),
        "{page}"
    );

    let r = http
        .delete(format!("{base}/api/v1/checks/slow"))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Taken away, its series are marked stale: no answer at once, not
    // after the 5-minute lookback.
    eventually(20, || async {
        query(&base, &admin, r#"probe_success{check="slow"}"#)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        query(&base, &admin, r#"probe_success{check="up"}"#).await,
        Some(1.0)
    );
    stop.cancel();
}
