//! Autoscaling against real parts: Docker, Debian's nginx and wrk. The
//! service's containers burn CPU per request (busybox httpd running a CGI
//! loop), so wrk's load raises CPU; the policy adds replicas up to max
//! and, once the load stops, removes them back to min (each drained out
//! of nginx first). wrk sees no failed request through scale-out, and a
//! paced load sees none through scale-in. Prints the time from
//! load to a serving new replica (the closing note's figure).

use crate::support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::docker::{busybox, docker, Cleanup};
use support::nginx::Nginx;
use support::*;

/// The service's template: busybox httpd whose `/cgi-bin/burn` spins
/// for a while and names the container that answered.
fn burner(image: &str, run: &str, name: &str, service: &str) {
    let script = "busybox --install -s /bin && mkdir -p /www/cgi-bin && \
        echo ok > /www/index.html && \
        printf '#!/bin/sh\\ni=0\\nwhile [ $i -lt 30000 ]; do i=$((i+1)); done\\nprintf \"Content-Type: text/plain\\\\r\\\\n\\\\r\\\\nburned by %%s\\\\n\" \"$(/bin/hostname)\"\\n' > /www/cgi-bin/burn && \
        chmod +x /www/cgi-bin/burn && exec httpd -f -p 8080 -h /www";
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--label",
        &format!("dozor.service={service}"),
        "--label",
        "dozor.port=8080",
        "--label",
        "dozor.actions=true",
        "--name",
        name,
        image,
        "sh",
        "-c",
        script,
    ])
    .expect("the template starts");
}

fn running(service: &str) -> usize {
    docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=dozor.service={service}"),
    ])
    .unwrap()
    .lines()
    .count()
}

#[tokio::test]
async fn load_adds_replicas_behind_nginx_and_they_go_when_it_stops_without_a_failed_request() {
    // The agent's own account of its nginx and Docker passes, shown with a
    // failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,dozor_collector::nginx=info,dozor_collector::docker=info")
        .with_test_writer()
        .try_init();
    let Some(wrk) = support::wrk::binary() else {
        return;
    };
    let Some(image) = busybox("autoscale") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let run = format!("as{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.autoscale_interval = Some(Duration::from_secs(1));
    })
    .await;
    let (agent, _stop, _) =
        support::nginx::start_agent(&server, "web-1", Duration::from_secs(1), &nginx, None).await;
    let token = api_token(&server, dozor_server::storage::Scope::Write).await;
    let http = reqwest::Client::new();
    let base = server.url();
    burner(&image.0, &run, &format!("as-{run}-t"), "scaler");
    let r = http
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(&token)
        .json(&json!({"name": "scaler", "host": "web-1", "domains": ["scale.test"], "connect_timeout_s": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    eventually(30, || async {
        nginx
            .get("scale.test", "/cgi-bin/burn")
            .await
            .1
            .contains("burned by")
            .then_some(())
    })
    .await;
    let policy = json!({
        "min": 1, "max": 3, "metric": "cpu", "window_s": 10,
        "up": {"threshold": 30.0, "for_s": 4, "step": 1, "cooldown_s": 6},
        "down": {"threshold": 8.0, "for_s": 6, "step": 1, "cooldown_s": 6},
        "tolerance": 0.1, "drain_s": 2
    });
    let r = http
        .put(format!("{base}/api/v1/services/scaler/autoscale"))
        .bearer_auth(&token)
        .json(&policy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Scale-out under load.
    let connections = 4u64;
    let url = format!("http://127.0.0.1:{}/cgi-bin/burn", nginx.port);
    let load = tokio::process::Command::new(wrk)
        .args([
            "-t2",
            &format!("-c{connections}"),
            "-d50s",
            "--timeout",
            "10s",
        ])
        .args(["-H", "Host: scale.test", &url])
        .output();
    let started = Instant::now();
    let watch = async {
        // The first answer from a container other than the template.
        let first_new = eventually(45, || async {
            let (_, body) = nginx.get("scale.test", "/cgi-bin/burn").await;
            let from = body.trim().rsplit(' ').next().unwrap_or("").to_string();
            let hostnames: HashSet<String> =
                docker(&["ps", "-q", "--filter", "label=dozor.replica=scaler"])
                    .unwrap()
                    .lines()
                    .map(|id| id.chars().take(12).collect())
                    .collect();
            hostnames.contains(&from).then(|| started.elapsed())
        })
        .await;
        eventually(45, || async { (running("scaler") == 3).then_some(()) }).await;
        first_new
    };
    // The fewest running members the agent's container report held
    // during the load (a 0 would empty nginx's upstream: a diagnosis for
    // any non-2xx below).
    let fewest = async {
        let mut fewest = usize::MAX;
        let until = Instant::now() + Duration::from_secs(50);
        while Instant::now() < until {
            let n = agent
                .containers
                .latest()
                .unwrap_or_default()
                .iter()
                .filter(|c| {
                    c.state == "running"
                        && c.labels.get("dozor.service").map(String::as_str) == Some("scaler")
                })
                .count();
            fewest = fewest.min(n);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        fewest
    };
    let (out, first_new, fewest) = tokio::join!(load, watch, fewest);
    eprintln!("autoscale: the agent's report held at least {fewest} running member(s) throughout");
    let text = String::from_utf8_lossy(&out.unwrap().stdout).to_string();
    let (requests, non2xx, connect, read, write, timeout) = support::wrk::counts(&text);
    eprintln!("{text}");
    eprintln!(
        "autoscale: load → a new replica serving in {first_new:?}; scale-out: {requests} requests, non-2xx {non2xx}, connect {connect}, read {read}, write {write}, timeout {timeout}"
    );
    if non2xx > 0 {
        // What nginx said about them, for the failure message.
        let access = std::fs::read_to_string(nginx.conf_dir.join("dozor/logs/access.log"))
            .unwrap_or_default();
        let bad: Vec<&str> = access
            .lines()
            .filter(|l| l.contains("burn") && !l.contains("\"status\":200"))
            .rev()
            .take(5)
            .collect();
        eprintln!("non-2xx answers: {bad:#?}");
    }
    assert!(requests > 50, "{text}");
    assert_eq!((non2xx, connect, write, timeout), (0, 0, 0, 0), "{text}");

    // Scale-in under a light, paced load (the static page, about 80
    // requests a second: wrk cannot pace, and at full speed it would keep
    // the replicas busy), back to min.
    let stop_light = tokio_util::sync::CancellationToken::new();
    let url = format!("http://127.0.0.1:{}/", nginx.port);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, url) = (stop_light.clone(), url.clone());
            tokio::spawn(async move {
                // A new connection per request: each reload closes nginx's
                // idle keep-alive connections, and a request written into
                // one as it closes fails at the client whatever dozor does
                // (browsers resend those; reqwest does not).
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap();
                let (mut ok, mut failed) = (0u64, Vec::new());
                while !stop.is_cancelled() {
                    match http.get(&url).header("host", "scale.test").send().await {
                        Ok(r) if r.status().is_success() => ok += 1,
                        Ok(r) => failed.push(r.status().to_string()),
                        Err(e) => failed.push(e.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (ok, failed)
            })
        })
        .collect();
    eventually(60, || async { (running("scaler") == 1).then_some(()) }).await;
    stop_light.cancel();
    let (mut ok, mut failed) = (0, Vec::new());
    for w in workers {
        let (o, f) = w.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    eprintln!(
        "autoscale: scale-in 3 → 1 under a paced load: {ok} requests answered 2xx, {} failed",
        failed.len()
    );
    assert!(ok > 100);
    assert!(failed.is_empty(), "{failed:?}");
    // The template stays.
    assert!(docker(&["inspect", &format!("as-{run}-t")]).is_ok());

    // Every action is recorded with its trigger and result.
    let ev = eventually(30, || async {
        let ev = support::autoscale::scale_events(&base, &token, "scaler").await;
        ev.iter()
            .all(|e| e["kind"] != "scale" || !e["result"].is_null())
            .then_some(ev)
    })
    .await;
    let scales: Vec<&Value> = ev.iter().filter(|e| e["kind"] == "scale").collect();
    let ups = scales.iter().filter(|e| e["direction"] == "up").count();
    let downs = scales.iter().filter(|e| e["direction"] == "down").count();
    assert_eq!((ups, downs), (2, 2), "{ev:#?}");
    assert!(
        scales
            .iter()
            .all(|e| e["result"] == "ok" && e["value"].is_number()),
        "{ev:#?}"
    );
    // The replica count and the decisions are series.
    let q = |expr: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let v: Value = reqwest::Client::new()
                .get(format!("{base}/prometheus/api/v1/query"))
                .query(&[("query", expr)])
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            v["data"]["result"][0]["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()
        }
    };
    eventually(20, || async {
        (q(r#"dozor_service_replicas{service="scaler",state="running"}"#).await == Some(1.0))
            .then_some(())
    })
    .await;
    assert_eq!(
        q(r#"dozor_autoscale_decisions_total{service="scaler",direction="up",result="scaled"}"#)
            .await,
        Some(2.0)
    );
    drop(server);
}
