//! Every response says `nosniff`, JSON and `/metrics` and 404s included,
//! and API answers say `no-store` so no shared cache keeps their data.

use crate::support;

use support::*;

#[tokio::test]
async fn every_answer_carries_nosniff_and_api_answers_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let api = api_client(&server).await;
    for (path, no_store) in [
        ("/api/v1/agents", true),
        ("/prometheus/api/v1/query?query=1", true),
        ("/prometheus/api/v1/labels", true),
        ("/metrics", true),
        ("/no/such/thing", false),
        ("/healthz", false),
        ("/login", true),
    ] {
        let r = api.get(format!("{base}{path}")).send().await.unwrap();
        let h = r.headers();
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
        if no_store {
            assert_eq!(
                h.get("cache-control").map(|v| v.to_str().unwrap()),
                Some("no-store"),
                "{path}"
            );
        }
        if path == "/no/such/thing" {
            assert_eq!(r.status(), 404);
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"], "no such endpoint");
        }
    }
    server.shutdown().await;
}
