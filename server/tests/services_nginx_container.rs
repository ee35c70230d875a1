//! `--nginx container:NAME`: nginx runs in a container (Debian's nginx,
//! built FROM scratch here) sharing dozor's config directory as a volume;
//! the agent tests and reloads it through Docker exec and addresses the
//! replicas on the network they share with it. A service is served
//! through it, and a config nginx refuses is reported with nginx's words
//! from inside the container.

use crate::support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::docker::{busybox, docker, Cleanup};
use support::*;

#[tokio::test]
async fn nginx_in_a_container_serves_and_reports_through_docker_exec() {
    let Some(replica_image) = busybox("httpd-c") else {
        return;
    };
    let Some(nginx_image) = support::nginx::container_image("nginx") else {
        if support::nginx::binary().is_none() {
            missing("nginx (Debian package)");
        }
        return;
    };
    let run = format!("ngc{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let conf_dir = dir.path().join("conf.d");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let main = dir.path().join("nginx.conf");
    std::fs::write(&main, support::nginx::container_main_conf(&conf_dir, 8080)).unwrap();
    let nginx = format!("dz-nginx-{run}");
    let conf = conf_dir.display().to_string();
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--name",
        &nginx,
        "-p",
        "127.0.0.1::8080",
        "-v",
        &format!("{conf}:{conf}"),
        "-v",
        &format!("{}:/etc/nginx/nginx.conf:ro", main.display()),
        &nginx_image.0,
    ])
    .expect("nginx's container starts");
    let published = docker(&["port", &nginx, "8080/tcp"]).unwrap();
    let addr = published.lines().next().unwrap().trim().to_string();
    let replica = format!("dz-{run}-1");
    support::nginx::replica(&replica_image.0, &run, &replica, "inctr");

    let server_dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&server_dir, None).await;
    let options = dozor_collector::nginx::Options {
        mode: dozor_collector::nginx::Mode::Container(nginx.clone()),
        conf_dir: conf_dir.clone(),
        http_port: 8080,
        ..Default::default()
    };
    let (_agent, stop, _) =
        support::nginx::start_agent_with(&server, "web-1", Duration::from_secs(1), options, None)
            .await;
    let token = api_token(&server, dozor_server::storage::Scope::Write).await;
    let http = reqwest::Client::new();
    let base = server.url();
    let r = http
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(&token)
        .json(&json!({"name": "inctr", "host": "web-1", "domains": ["app.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let get = || async {
        match http
            .get(format!("http://{addr}/"))
            .header("host", "app.test")
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    let started = Instant::now();
    while !get().await.contains(&format!("replica {replica}")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never served through the container"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A refusal comes back in nginx's words, from inside the container.
    std::fs::write(conf_dir.join("zz-broken.conf"), "bogus_directive on;\n").unwrap();
    let r = http
        .put(format!("{base}/api/v1/services/inctr"))
        .bearer_auth(&token)
        .json(&json!({"host": "web-1", "domains": ["app.test", "www.app.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    loop {
        let v: serde_json::Value = http
            .get(format!("{base}/api/v1/services/inctr"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["apply"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("bogus_directive"))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failure reported: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Served the whole time; a loaded machine may drop one request, so a
    // few tries (each with its body kept for the message).
    let mut seen = Vec::new();
    for _ in 0..5 {
        let body = get().await;
        if body.contains(&format!("replica {replica}")) {
            break;
        }
        seen.push(body);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(seen.len() < 5, "the last good config serves: {seen:?}");
    // nginx's gauges, read on the container's own address.
    let up = eventually(20, || async {
        let v: serde_json::Value = http
            .get(format!("{base}/prometheus/api/v1/query"))
            .bearer_auth(&token)
            .query(&[("query", "nginx_up")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(up, "1", "stub_status read in the container");
    stop.cancel();
    server.shutdown().await;
}
