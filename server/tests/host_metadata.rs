//! The collector's host families reach the metadata API with
//! node_exporter's type and help, as scraped families do, so Grafana's
//! hints and autocomplete describe them.

use crate::support;

use std::time::Duration;
use support::*;

#[tokio::test]
async fn host_families_have_node_exporters_type_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (_agent, stop) =
        support::agents::start_agent(&server, "web-1", Duration::from_secs(1)).await;
    let c = api_client(&server).await;
    let url = format!(
        "{}/prometheus/api/v1/metadata?metric=node_cpu_seconds_total",
        server.url()
    );
    let meta = eventually(30, || {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let v: serde_json::Value = c.get(&url).send().await.ok()?.json().await.ok()?;
            v["data"]["node_cpu_seconds_total"].get(0).cloned()
        }
    })
    .await;
    assert_eq!(meta["type"], "counter", "{meta}");
    assert_eq!(
        meta["help"], "Seconds the CPUs spent in each mode.",
        "{meta}"
    );
    let all: serde_json::Value = c
        .get(format!("{}/prometheus/api/v1/metadata", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["data"]["node_memory_MemTotal_bytes"][0]["help"],
        "Memory information field MemTotal_bytes."
    );
    stop.cancel();
    server.shutdown().await;
}
