//! Docker label discovery against the real Docker Engine: a container
//! built `FROM scratch` with Debian's busybox-static, serving a metrics
//! file through `busybox httpd`, labelled `dozor.scrape=true`, is found,
//! scraped at its own address and lands in storage; once it is removed its
//! series go stale. Required when CI=true.

use crate::support;

use std::time::Duration;
use support::data::query;
use support::docker::{docker, Cleanup};
use support::*;

/// The image: busybox httpd serving one metrics file.
fn build_image() -> Option<support::docker::Image> {
    support::docker::busybox_image(
        "metrics-httpd",
        &[("www/metrics", "# TYPE busybox_metric gauge\nbusybox_metric{kind=\"file\"} 42\n")],
        "COPY www /www\nEXPOSE 8080\nENTRYPOINT [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )
}

#[tokio::test]
async fn labelled_containers_are_discovered_scraped_and_retired() {
    let Some(image) = build_image() else {
        return;
    };
    let name = format!("dozor-scrape-test-{}", std::process::id());
    let run = std::process::id().to_string();
    let cleanup = Cleanup(run.clone());
    let test_label = format!("dozor.test={run}");
    docker(&[
        "run",
        "-d",
        "--label",
        &test_label,
        "--name",
        &name,
        "--label",
        "dozor.scrape=true",
        "--label",
        "dozor.scrape.interval=1s",
        &image.0,
    ])
    .expect("the container starts");

    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (agent, stop) =
        support::agents::start_agent(&server, "docker-host", Duration::from_secs(3600)).await;
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
    drop(cleanup);
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
