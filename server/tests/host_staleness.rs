//! Host series that go away (a veth interface of a removed container, an
//! unmounted filesystem) are marked stale by the collector's next pass, as
//! Prometheus marks a scrape's vanished series: they stop answering at
//! once instead of for the 5-minute lookback.

use crate::support;

use std::time::Duration;
use support::data::query;
use support::*;

#[tokio::test]
async fn a_vanished_interface_stops_answering_at_once() {
    let host = tempfile::tempdir().unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture_root().display()))
        .arg(host.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (_agent, stop) =
        support::agents::start_agent_at(&server, "web-1", Duration::from_secs(1), host.path())
            .await;
    let c = api_client(&server).await;
    let base = server.url();
    let veth = "node_network_receive_bytes_total{device=\"veth9f3a2b1\"}";
    let eth0 = "node_network_receive_bytes_total{device=\"eth0\"}";
    eventually(30, || {
        let (c, base) = (c.clone(), base.clone());
        async move { (query(&c, &base, veth).await.len() == 1).then_some(()) }
    })
    .await;

    // The container is gone: its veth leaves /proc/net/dev.
    let dev = host.path().join("proc/net/dev");
    let text = std::fs::read_to_string(&dev).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("veth9f3a2b1:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&dev, kept).unwrap();
    eventually(15, || {
        let (c, base) = (c.clone(), base.clone());
        async move { query(&c, &base, veth).await.is_empty().then_some(()) }
    })
    .await;
    assert_eq!(
        query(&c, &base, eth0).await.len(),
        1,
        "the interfaces still there keep answering"
    );
    stop.cancel();
    server.shutdown().await;
}
