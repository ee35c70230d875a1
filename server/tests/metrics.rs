//! `/metrics` must pass `promtool check metrics` (Debian's prometheus
//! package) and carry the figures operators need.

use crate::support;

use support::*;

#[tokio::test]
async fn metrics_pass_promtool_and_count_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let key = enroll(&base, &enroll_token(&server), "web-1").await;
    let body = serde_json::json!({"series": [{"name": "x", "samples": [[now_ms(), 1], [now_ms() - 1, 2]]}]});
    assert_eq!(
        post_heartbeat(&base, Some(&key), zstd_json(&body), Some("zstd"))
            .await
            .status,
        200
    );
    assert_eq!(
        post_heartbeat(&base, Some("dzk_bad"), zstd_json(&body), Some("zstd"))
            .await
            .status,
        401
    );
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );

    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = resp.text().await.unwrap();
    for line in [
        "dozor_ingest_samples_total 2",
        "dozor_ingest_batches_total{result=\"ok\"} 1",
        "dozor_ingest_batches_total{result=\"error\"} 1",
        "dozor_ingest_errors_total{reason=\"bad_key\"} 1",
        "dozor_agents_online 1",
        "dozor_active_series 1",
        "dozor_storage_operation_duration_seconds_count{op=\"append\"} 1",
        "dozor_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/agents/heartbeat\",status=\"200\"} 1",
        "dozor_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    assert!(text.contains("process_resident_memory_bytes "));
    // dozor's own parser reads all of it, strictly, with every histogram
    // bucket typed as one.
    let mut p = dozor_common::expo::Parser::new(&text, dozor_common::expo::Format::Text).strict();
    let mut samples = 0;
    while let Some(s) = p.next_sample() {
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        if s.name.ends_with("_bucket") {
            assert_eq!(s.kind, dozor_common::expo::Kind::Histogram, "{}", s.name);
        }
        samples += 1;
    }
    let lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(samples, lines);

    let Some((code, report)) = support::data::promtool_check_metrics(&text) else {
        return;
    };
    assert_eq!(code, Some(0), "promtool check metrics failed:\n{report}");
    server.shutdown().await;
}
