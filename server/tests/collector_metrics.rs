//! The collector's own /metrics: host, scraped and per-scrape series in the
//! text format, read back strictly by dozor's parser and checked by the
//! real promtool.

use crate::support;

use dozor_collector::agent::{Agent, AgentConfig};
use dozor_collector::proc::HostInput;
use dozor_collector::scrape;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use support::scrape_targets::{target, targets};
use support::*;
use tokio_util::sync::CancellationToken;

/// A server that accepts everything and keeps nothing.
struct Discard;

#[async_trait::async_trait]
impl dozor_collector::sink::Sink for Discard {
    async fn send(
        &self,
        _: dozor_common::protocol::HeartbeatRequest,
    ) -> Result<dozor_common::protocol::HeartbeatResponse, dozor_collector::sink::SendError> {
        Ok(Default::default())
    }
}

/// The collector's own /metrics: host, scraped and per-scrape series in the
/// text format, read back strictly by dozor's parser and checked by the
/// real promtool, whose only complaints may be the camelCase and unit names that
/// node_exporter itself uses (node_memory_MemTotal_bytes).
#[tokio::test]
async fn the_collectors_own_metrics_are_valid_exposition() {
    let t = targets(Arc::new(AtomicBool::new(false))).await;
    let sink = Discard;
    let cfg = AgentConfig {
        interval: Duration::from_secs(3600),
        ..AgentConfig::default()
    };
    let agent = Agent::new(HostInput::new(fixture_root()), Arc::new(sink), cfg);
    let latest = dozor_collector::exposition::Shared::default();
    agent.expose(latest.clone());
    let stop = CancellationToken::new();
    let addr =
        dozor_collector::exposition::serve("127.0.0.1:0".parse().unwrap(), latest, stop.clone())
            .await
            .unwrap();
    agent.collect_at(dozor_collector::agent::now_ms()).await;
    scrape::spawn(
        // Not /text: its names are lint-dirty on purpose, and the collector
        // passes a target's names through as they are.
        vec![
            target("om", format!("{t}/om"), |_| {}),
            target("app", format!("{t}/json"), |s| {
                s.format = Some("json".into())
            }),
        ],
        false,
        Duration::from_secs(3600),
        Duration::from_secs(1),
        agent.clone(),
        stop.clone(),
    );
    let url = format!("http://{addr}/metrics");
    let body = eventually(10, || {
        let url = url.clone();
        async move {
            let b = reqwest::get(&url).await.ok()?.text().await.ok()?;
            (b.contains("http_requests_total") && b.contains("uptime")).then_some(b)
        }
    })
    .await;
    let mut p = dozor_common::expo::Parser::new(&body, dozor_common::expo::Format::Text).strict();
    while let Some(s) = p.next_sample() {
        s.unwrap_or_else(|e| panic!("{e}\n{body}"));
    }
    assert!(body.contains("# TYPE request_latency_seconds histogram\n"));
    assert!(
        body.contains("# HELP http_requests_total Requests \\\"served\\\"\\nby path\n")
            || body.contains("# HELP http_requests_total ")
    );
    assert!(body.contains("# TYPE http_requests_total counter\n"));
    assert!(body.contains("# TYPE node_cpu_seconds_total counter\n"));
    // node_exporter's own HELP texts, not one generic line.
    assert!(body.contains("# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"));
    assert!(body
        .contains("# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n"));
    assert!(body.contains("# TYPE node_netstat_Tcp_InSegs untyped\n"));
    assert!(body.contains("up{instance="));
    let Some((code, report)) = support::data::promtool_check_metrics(&body) else {
        return;
    };
    assert_ne!(code, Some(1), "promtool could not parse it:\n{report}");
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !l.contains("should be written in 'snake_case' not 'camelCase'"))
        // node_exporter's own entropy names (`node_entropy_available_bits`)
        // draw this lint too; the collector keeps its names.
        .filter(|l| !(l.starts_with("node_entropy_") && l.contains("use base unit")))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(problems.is_empty(), "promtool: {problems:#?}");
    stop.cancel();
}
