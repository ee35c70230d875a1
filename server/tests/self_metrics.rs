//! The server records its own metrics as series (job="dozor"): each
//! agent's last heartbeat and its clock offset, measured from the
//! `sent_ms` the heartbeat carries, are there to query, and histogram
//! buckets are not stored.

use crate::support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

async fn query(server: &dozor_server::Server, q: &str) -> Vec<Value> {
    support::data::query(&api_client(server).await, &server.url(), q).await
}

#[tokio::test]
async fn agents_clocks_and_health_are_stored_as_series() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.self_metrics_interval = Some(Duration::from_millis(1000));
    })
    .await;
    let base = server.url();
    let token = enroll_token(&server);
    let fast = enroll(&base, &token, "fast").await;
    let plain = enroll(&base, &token, "old").await;
    // "fast" runs 30 s ahead; "old" sends no clock (an older collector).
    let body = json!({"series": [], "sent_ms": now_ms() + 30_000});
    let r = post_heartbeat(&base, Some(&fast), serde_json::to_vec(&body).unwrap(), None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = post_heartbeat(&base, Some(&plain), b"{\"series\": []}".to_vec(), None).await;
    assert_eq!(r.status, 200);

    let offsets = eventually(10, || async {
        let r = query(&server, "dozor_agent_clock_offset_seconds").await;
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(
        offsets.len(),
        1,
        "only agents that send their clock: {offsets:?}"
    );
    let m = &offsets[0]["metric"];
    assert_eq!(
        (m["host"].as_str(), m["job"].as_str()),
        (Some("fast"), Some("dozor"))
    );
    let v: f64 = offsets[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((29.0..=30.5).contains(&v), "about 30 s ahead: {v}");

    // A pass leaves out what it could not read (the agents' list, when
    // the store is busy), so the next one is waited for.
    let seen = eventually(10, || async {
        let r = query(&server, "time() - dozor_agent_last_seen_timestamp_seconds").await;
        (r.len() == 2).then_some(r)
    })
    .await;
    for s in &seen {
        let ago: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
        assert!((0.0..30.0).contains(&ago), "seen just now: {s}");
    }
    assert!(!query(&server, "dozor_build_info{job=\"dozor\"}")
        .await
        .is_empty());
    assert!(
        query(&server, "{__name__=~\".+_bucket\", job=\"dozor\"}")
            .await
            .is_empty(),
        "histogram buckets are served, not stored"
    );
    assert!(!query(
        &server,
        "dozor_http_request_duration_seconds_count{job=\"dozor\"}"
    )
    .await
    .is_empty());
    server.shutdown().await;
}

/// Hostile clocks in heartbeats: the extremes of i64 are taken (and read
/// as wildly skewed), a clock that is not a number is refused with the
/// field named, and the server keeps answering.
#[tokio::test]
async fn hostile_agent_clocks_never_crash_a_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "odd").await;
    for sent in [i64::MIN, i64::MAX, 0] {
        let body = json!({"series": [], "sent_ms": sent});
        let r = post_heartbeat(&base, Some(&key), serde_json::to_vec(&body).unwrap(), None).await;
        assert_eq!(r.status, 200, "sent_ms {sent}: {:?}", r.json);
    }
    let r = post_heartbeat(
        &base,
        Some(&key),
        br#"{"series": [], "sent_ms": "soon"}"#.to_vec(),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json.to_string().contains("sent_ms"), "{:?}", r.json);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("dozor_agent_clock_offset_seconds{host=\"odd\"}"))
        .expect("the offset is reported");
    let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(v < -1e9, "a clock at the epoch reads as far behind: {v}");
    server.shutdown().await;
}
