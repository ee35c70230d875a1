//! Log view latency benchmark (not a test): from the page's request to
//! the lines in its hands, through the whole path (session check, task
//! queued, the agent's long-poll woken over HTTP, bollard reading the
//! logs, the result posted back, the waiting request woken).
//!
//!   cargo bench -p dozor-server --bench logs_latency
//!
//! Needs the Docker Engine and Debian's busybox-static. Baseline in the
//! same run: the agent's own fetch of the same lines straight from Docker
//! (`docker::logs::fetch`), the floor the path adds to. 40 rounds each,
//! tail 100 of a container printing a line every 50 ms.

#[path = "shared/session.rs"]
mod session;

use dozor_collector::agent::{Agent, AgentConfig};
use dozor_collector::docker::actions::Policy;
use dozor_collector::http::ServerClient;
use dozor_collector::proc::HostInput;
use dozor_common::containers::LogsRequest;
use dozor_server::config::Config;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 40;
const NAME: &str = "dozor-bench-logger";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).expect("busybox-static is installed");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n",
    )
    .unwrap();
    docker(&[
        "build",
        "-q",
        "-t",
        "dozor-bench/busybox:1",
        &ctx.path().display().to_string(),
    ]);
    docker(&["rm", "-f", NAME]);
    docker(&[
        "run",
        "-d",
        "--name",
        NAME,
        "dozor-bench/busybox:1",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo \"line $i\"; sleep 0.05; done",
    ]);
    tokio::time::sleep(Duration::from_secs(6)).await;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::for_data_dir(dir.path().join("data"));
    cfg.local_collector = false;
    let server = dozor_server::app::Server::start(cfg).await.unwrap();
    let base = server.url();
    let cookie = session::signed_in(&server).await;
    let token = std::fs::read_to_string(&server.enroll_token_path).unwrap();
    let client = ServerClient::new(&base).unwrap();
    let inv = dozor_collector::inventory::read(std::path::Path::new("/"));
    let key = client
        .enroll(token.trim(), "bench-host", inv)
        .await
        .unwrap()
        .agent_key;
    let agent = Agent::new(
        HostInput::new("/"),
        Arc::new(client.sink(&key)),
        AgentConfig {
            interval: Duration::from_secs(1),
            ..Default::default()
        },
    );
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(agent.clone().run(stop.clone()));
    dozor_collector::actors::spawn(&agent, Policy::None, &stop);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/containers/logs?host=bench-host&name={NAME}&tail=100");

    let d = dozor_collector::docker::connect().await.unwrap();
    let req = LogsRequest {
        container: NAME.into(),
        tail: 100,
        since: None,
        stdout: true,
        stderr: true,
        max_lines: 1000,
        max_bytes: 1 << 20,
    };
    let (mut direct, mut path) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let out = dozor_collector::docker::logs::fetch(&d, &req)
            .await
            .unwrap();
        direct.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.lines.len(), 100);
        let t = Instant::now();
        let r = http
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        path.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            body["lines"].as_array().map(|l| l.len()),
            Some(100),
            "{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (d50, d90) = (pct(&mut direct, 0.5), pct(&mut direct, 0.9));
    let (p50, p90) = (pct(&mut path, 0.5), pct(&mut path, 0.9));
    println!("tail 100, {ROUNDS} rounds");
    println!("direct from Docker (baseline): p50 {d50:.1} ms  p90 {d90:.1} ms");
    println!("page → server → agent → page:  p50 {p50:.1} ms  p90 {p90:.1} ms  ({:.1}× the baseline at p50)", p50 / d50);
    stop.cancel();
    server.shutdown().await;
    docker(&["rm", "-f", NAME]);
    docker(&["rmi", "dozor-bench/busybox:1"]);
}
