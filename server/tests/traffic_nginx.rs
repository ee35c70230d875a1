//! Traffic end to end with Debian's nginx and a busybox httpd container:
//! requests sent from 127.0.0.2 with known status codes move the stored
//! `dozor_http_requests_total` by exactly their number, across a log
//! rotation in the middle (rename, `nginx -s reopen`); hostile lines
//! written into the log are counted as skipped and the lines after them
//! are still counted; nginx's stub_status gauges arrive; the agent's own
//! probe of the service is up and not counted as traffic; the Services
//! list and the service page show the traffic.

use crate::support;

use serde_json::json;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::docker::{busybox, Cleanup};
use support::nginx::{replica, Nginx};
use support::*;

/// The stored value of an instant query with one result, None without.
async fn stored(base: &str, token: &str, q: &str) -> Option<f64> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/prometheus/api/v1/query"))
        .bearer_auth(token)
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = v["data"]["result"].as_array()?;
    assert!(r.len() <= 1, "{q}: {v}");
    r.first()?["value"][1].as_str()?.parse().ok()
}

/// Waits until `q` has held one value for three seconds; returns it.
async fn settled(base: &str, token: &str, q: &str) -> f64 {
    let start = Instant::now();
    let mut last = (None, Instant::now());
    while start.elapsed() < Duration::from_secs(30) {
        let v = stored(base, token, q).await;
        if v != last.0 {
            last = (v, Instant::now());
        } else if last.1.elapsed() >= Duration::from_secs(3) {
            return v.unwrap_or(0.0);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{q} did not settle");
}

async fn send(client: &reqwest::Client, port: u16, path: &str, n: usize, want: u16) {
    for _ in 0..n {
        let r = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .header("host", "app.test")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counts_are_exact_across_a_rotation_and_hostile_lines_are_skipped() {
    let Some(image) = busybox("httpd-t") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let run = format!("trf{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (_agent, stop, _) =
        support::nginx::start_agent(&server, "web-1", Duration::from_secs(1), &nginx, None).await;
    let token = api_token(&server, dozor_server::storage::Scope::Write).await;
    let base = server.url();
    replica(&image.0, &run, &format!("dz-{run}-1"), "traffic");
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(&token)
        .json(&json!({"name": "traffic", "host": "web-1", "domains": ["app.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    eventually(30, || async {
        let (status, body) = nginx.get("app.test", "/").await;
        (status == 200 && body.contains("replica")).then_some(())
    })
    .await;

    let ok = r#"sum(dozor_http_requests_total{service="traffic",code="200"})"#;
    let missing = r#"sum(dozor_http_requests_total{service="traffic",code="404"})"#;
    let malformed = r#"dozor_http_log_lines_skipped_total{reason="malformed"}"#;
    let too_long = r#"dozor_http_log_lines_skipped_total{reason="too_long"}"#;
    let before = (
        settled(&base, &token, ok).await,
        settled(&base, &token, missing).await,
        settled(&base, &token, malformed).await,
        settled(&base, &token, too_long).await,
    );

    let client = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse::<IpAddr>().unwrap()))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let log = nginx.conf_dir.join("dozor/logs/access.log");
    send(&client, nginx.port, "/", 30, 200).await;
    send(&client, nginx.port, "/missing?token=secret", 10, 404).await;
    // Rotation in the middle, as logrotate does it.
    std::fs::rename(&log, log.with_extension("log.1")).unwrap();
    send(&client, nginx.port, "/", 20, 200).await;
    let reopen = std::process::Command::new(support::nginx::binary().unwrap())
        .arg("-c")
        .arg(&nginx.main_conf)
        .args(["-s", "reopen"])
        .status()
        .unwrap();
    assert!(reopen.success());
    send(&client, nginx.port, "/missing", 15, 404).await;
    // Hostile lines between good ones: cut JSON, invalid UTF-8, 100 KiB.
    eventually(10, || async { log.exists().then_some(()) }).await;
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let mut hostile = b"{\"service\":\"app\",\"status\":2\n".to_vec();
        hostile.extend_from_slice(b"{\"service\":\"app\xff\xfe\"}\n");
        hostile.extend(std::iter::repeat_n(b'x', 100 << 10));
        hostile.push(b'\n');
        f.write_all(&hostile).unwrap();
    }
    send(&client, nginx.port, "/", 5, 200).await;

    let want = (
        before.0 + 55.0,
        before.1 + 25.0,
        before.2 + 2.0,
        before.3 + 1.0,
    );
    let got = eventually(30, || async {
        let got = (
            stored(&base, &token, ok).await.unwrap_or(0.0),
            stored(&base, &token, missing).await.unwrap_or(0.0),
            stored(&base, &token, malformed).await.unwrap_or(0.0),
            stored(&base, &token, too_long).await.unwrap_or(0.0),
        );
        if got != want {
            let l = std::fs::read_to_string(&log).unwrap_or_default();
            let o = std::fs::read_to_string(log.with_extension("log.1")).unwrap_or_default();
            eprintln!("stored {got:?}, want {want:?}; log {} lines, old {} lines; {:?}; lines_total {:?} at {:?} now {}", l.lines().count(), o.lines().count(), l.lines().next(), stored(&base, &token, "dozor_http_log_lines_total").await, stored(&base, &token, "timestamp(dozor_http_log_lines_total)").await, now_ms());
        }
        (got == want).then_some(got)
    })
    .await;
    // And no line is counted twice later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(settled(&base, &token, ok).await, got.0);
    assert_eq!(settled(&base, &token, missing).await, got.1);

    // The lines themselves: the client address, no query string.
    // nginx buffers its lines, so the hostile ones may come first.
    let lines = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    let first: serde_json::Value = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("client").is_some())
        .unwrap();
    assert_eq!(first["client"], "127.0.0.2", "{first}");
    let rotated = std::fs::read_to_string(log.with_extension("log.1")).unwrap();
    assert!(rotated.contains("\"path\":\"/missing\"") && !rotated.contains("secret"));

    // Histograms and bytes per service; nginx's own gauges.
    let count = r#"dozor_http_request_duration_seconds_count{service="traffic"}"#;
    assert!(stored(&base, &token, count).await.unwrap() >= 80.0);
    let p95 = r#"histogram_quantile(0.95, sum by (le) (rate(dozor_http_request_duration_seconds_bucket{service="traffic"}[1m])))"#;
    assert!(stored(&base, &token, p95).await.is_some_and(|v| v < 1.0));
    assert!(
        stored(
            &base,
            &token,
            r#"dozor_http_response_bytes_total{service="traffic"}"#
        )
        .await
        .unwrap()
            > 0.0
    );
    assert_eq!(stored(&base, &token, "nginx_up").await, Some(1.0));
    // The agent's own probe of the service through nginx: up, and not
    // counted as traffic (the exact counts above hold with it running).
    let probe = r#"probe_success{service="traffic",probe="service"}"#;
    assert_eq!(stored(&base, &token, probe).await, Some(1.0));
    let code = r#"probe_http_status_code{service="traffic"}"#;
    assert_eq!(stored(&base, &token, code).await, Some(200.0));
    let probes = r#"dozor_http_log_lines_skipped_total{reason="probe"}"#;
    assert!(stored(&base, &token, probes).await.unwrap() >= 1.0);
    // Keep-alive: fewer connections than requests.
    assert!(
        stored(&base, &token, "nginx_http_requests_total")
            .await
            .unwrap()
            >= 80.0
    );
    assert!(
        stored(&base, &token, "nginx_connections_accepted")
            .await
            .unwrap()
            >= 1.0
    );

    // Where a person looks: the list's columns and the service's charts.
    let admin = web_session(&server).await;
    let list = support::web::get(&base, "/services", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("Requests/s") && list.contains(">5xx<"),
        "{list}"
    );
    let page = support::web::get(&base, "/services/traffic", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Requests by status class") && page.contains("Latency"));
    // Uptime from the probes, and their response time.
    // (Not 100%: the probe fails while the first config has no member.)
    let uptime = page
        .split("<th>uptime</th><td>")
        .nth(1)
        .and_then(|r| r.split("</td>").next())
        .unwrap_or("");
    assert!(
        uptime.starts_with("24h ") && uptime.contains("% · 7d "),
        "{uptime:?}"
    );
    assert!(page.contains("Response time by phase"));
    assert!(
        page.contains("class=\"picker\""),
        "the service page draws data"
    );
    stop.cancel();
}
