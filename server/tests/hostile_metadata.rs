//! Metric metadata from agents is input like any other: a heartbeat with
//! far too many entries, a name with a NUL or no name at all, a help text
//! with a NUL. The good entries are kept, the bad ones alone are dropped,
//! at most 10,000 entries a request are read, and the samples beside them
//! are stored as always.

use crate::support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn hostile_metadata_is_bounded_and_bad_entries_are_dropped_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let now = now_ms();
    let mut metadata: Vec<serde_json::Value> = (0..12_000)
        .map(|i| json!({"metric": format!("m{i:05}"), "type": "gauge", "help": "x"}))
        .collect();
    metadata.insert(0, json!({"metric": "", "type": "gauge"}));
    metadata.insert(0, json!({"metric": "bad\u{0}name", "type": "gauge"}));
    metadata.insert(
        0,
        json!({"metric": "a_total", "type": "counter", "help": "nul\u{0}here", "unit": "u"}),
    );
    let body = json!({
        "series": [{"name": "a_total", "labels": {"k": "1"}, "samples": [[now, 1]]}],
        "metadata": metadata,
    });
    let r = post_heartbeat(&base, Some(&key), body.to_string().into_bytes(), None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["stored_samples"], 1, "{}", r.json);
    let c = api_client(&server).await;
    let v: serde_json::Value = c
        .get(format!("{base}/prometheus/api/v1/metadata"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = v["data"].as_object().unwrap();
    assert!(all.len() <= 10_000, "{} entries kept", all.len());
    assert!(!all.contains_key("") && !all.contains_key("bad\u{0}name"));
    assert_eq!(
        v["data"]["a_total"],
        json!([{"type": "counter", "help": "nulhere", "unit": "u"}])
    );
    server.shutdown().await;
}
