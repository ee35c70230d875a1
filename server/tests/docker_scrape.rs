//! Docker label discovery against the real Docker Engine: a container
//! built `FROM scratch` with Debian's busybox-static, serving a metrics
//! file through `busybox httpd`, labelled `dozor.scrape=true`, is found,
//! scraped at its own address and lands in storage; once it is removed its
//! series go stale. Required when CI=true.

mod support;

use dozor_collector::agent::{Agent, AgentConfig};
use dozor_collector::http::ServerClient;
use dozor_collector::proc::HostInput;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio_util::sync::CancellationToken;

const IMAGE: &str = "dozor-test/metrics-httpd:1";

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Removes the container however the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

/// Builds the image from busybox-static and a metrics file; None to skip.
fn build_image() -> Option<()> {
    if docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return None;
    }
    if !std::path::Path::new("/bin/busybox").exists() {
        missing("busybox-static (Debian package)");
        return None;
    }
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
    std::fs::create_dir(ctx.path().join("www")).unwrap();
    std::fs::write(
        ctx.path().join("www/metrics"),
        "# TYPE busybox_metric gauge\nbusybox_metric{kind=\"file\"} 42\n",
    )
    .unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nEXPOSE 8080\nENTRYPOINT [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    docker(&[
        "build",
        "-q",
        "-t",
        IMAGE,
        &ctx.path().display().to_string(),
    ])
    .expect("the image builds");
    Some(())
}

async fn query(c: &reqwest::Client, base: &str, q: &str) -> Vec<serde_json::Value> {
    let r: serde_json::Value = c
        .get(format!("{base}/prometheus/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn labelled_containers_are_discovered_scraped_and_retired() {
    if build_image().is_none() {
        return;
    }
    let name = format!("dozor-scrape-test-{}", std::process::id());
    let id = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        "dozor.scrape=true",
        "--label",
        "dozor.scrape.interval=1s",
        IMAGE,
    ])
    .expect("the container starts");
    let container = Container(id);

    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let client = ServerClient::new(&server.url()).unwrap();
    let resp = client
        .enroll(
            &enroll_token(&server),
            "docker-host",
            dozor_collector::inventory::read(&fixture_root()),
        )
        .await
        .unwrap();
    let cfg = AgentConfig {
        interval: Duration::from_secs(3600),
        ..AgentConfig::default()
    };
    let agent = Agent::new(
        HostInput::new(fixture_root()),
        Arc::new(client.sink(&resp.agent_key)),
        cfg,
    );
    let stop = CancellationToken::new();
    tokio::spawn(agent.clone().run(stop.clone()));
    dozor_collector::scrape::spawn(
        vec![],
        true,
        Duration::from_secs(1),
        Duration::from_secs(1),
        agent,
        stop.clone(),
    );

    let c = api_client(&server).await;
    let base = server.url();
    let q = format!("busybox_metric{{container=\"{name}\"}}");
    let got = eventually(30, || {
        let (c, base, q) = (c.clone(), base.clone(), q.clone());
        async move { query(&c, &base, &q).await.into_iter().next() }
    })
    .await;
    assert_eq!(got["value"][1], "42");
    assert_eq!(
        got["metric"]["job"],
        name.as_str(),
        "the job defaults to the container name"
    );
    assert_eq!(got["metric"]["kind"], "file");
    assert_eq!(got["metric"]["host"], "docker-host");
    let ip = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &name,
    ])
    .unwrap();
    assert_eq!(
        got["metric"]["instance"],
        format!("{ip}:8080").as_str(),
        "scraped at the container's own address"
    );
    let up = query(&c, &base, &format!("up{{job=\"{name}\"}}")).await;
    assert_eq!(up[0]["value"][1], "1");

    // Gone: its series are marked stale and PromQL stops returning them.
    drop(container);
    eventually(30, || {
        let (c, base, q) = (c.clone(), base.clone(), q.clone());
        async move { query(&c, &base, &q).await.is_empty().then_some(()) }
    })
    .await;
    // And once discovery sees it gone, the target's own series too.
    let up = format!("up{{job=\"{name}\"}}");
    eventually(30, || {
        let (c, base, up) = (c.clone(), base.clone(), up.clone());
        async move { query(&c, &base, &up).await.is_empty().then_some(()) }
    })
    .await;
    stop.cancel();
    server.shutdown().await;
}
