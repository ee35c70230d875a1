//! Protection end to end with Debian's nginx and busybox httpd
//! containers, clients bound to their own loopback addresses:
//! - a flood from 127.0.0.5 gets it blocked (403 from nginx) within an
//!   interval and a reload while 127.0.0.6 keeps getting 200s, and the
//!   block ends by itself after its time to live; 127.0.0.1 (allowlisted)
//!   is never blocked whatever it sends; the Security screen and the
//!   metrics show the block;
//! - an admin's block reaches nginx through the desired state and an
//!   unblock lifts it; an allowlisted address cannot be blocked;
//! - bad paths from one address on two hosts make a fleet block on both,
//!   and a third host that enrols later denies the address too.
//!   Prints the time from flood start to block.

use crate::support;

use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::docker::{busybox, Cleanup};
use support::nginx::{replica, Nginx};
use support::*;

fn client(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from.parse::<IpAddr>().unwrap()))
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn status(c: &reqwest::Client, nginx: &Nginx, host: &str, path: &str) -> u16 {
    match c
        .get(format!("http://127.0.0.1:{}{path}", nginx.port))
        .header("host", host)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Served by the new config in every worker: after a reload nginx's old
/// workers may still take a connection or two with the old one.
async fn steadily_served(c: &reqwest::Client, nginx: &Nginx, host: &str) {
    eventually(30, || async {
        for _ in 0..10 {
            if status(c, nginx, host, "/").await != 200 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return None;
            }
        }
        Some(())
    })
    .await;
}

async fn create_service(base: &str, token: &str, name: &str, host: &str, domain: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(token)
        .json(&json!({"name": name, "host": host, "domains": [domain]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn put_settings(base: &str, token: &str, change: impl FnOnce(&mut Value)) {
    let http = reqwest::Client::new();
    let mut s: Value = http
        .get(format!("{base}/api/v1/protection"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    change(&mut s);
    let r = http
        .put(format!("{base}/api/v1/protection"))
        .bearer_auth(token)
        .json(&s)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn blocks(base: &str, token: &str) -> Vec<Value> {
    let v: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/blocks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["blocks"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_blocked_on_its_host_and_the_block_expires() {
    let Some(image) = busybox("httpd-p") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let run = format!("prot{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (_agent, stop, key) =
        support::nginx::start_agent(&server, "web-1", Duration::from_secs(1), &nginx, None).await;
    let token = api_token(&server, dozor_server::storage::Scope::Admin).await;
    let base = server.url();
    replica(&image.0, &run, &format!("dz-{run}-1"), "prot");
    put_settings(&base, &token, |s| {
        s["rate"]["limit"] = json!(50);
        s["rate"]["window_s"] = json!(10);
        s["ttl_s"] = json!(6);
    })
    .await;
    create_service(&base, &token, "prot", "web-1", "app.test").await;
    let (five, six, local) = (
        client("127.0.0.5"),
        client("127.0.0.6"),
        client("127.0.0.1"),
    );
    eventually(30, || async {
        (status(&six, &nginx, "app.test", "/").await == 200).then_some(())
    })
    .await;
    // The settings (deny status, thresholds) are in force once the host
    // applied the document that carries them.
    eventually(30, || async {
        let v: Value = reqwest::Client::new()
            .get(format!("{base}/api/v1/services/prot"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (v["apply"]["state"] == "applied").then_some(())
    })
    .await;
    steadily_served(&local, &nginx, "app.test").await;
    // The agent's own address (its heartbeats') is in every host's list
    // of addresses never to block.
    let doc: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/agents/desired-state"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["sections"]["protection"]["own"],
        json!(["127.0.0.1"]),
        "{doc}"
    );

    // The allowlisted address sends far more than the limit: never blocked.
    for _ in 0..150 {
        let code = status(&local, &nginx, "app.test", "/").await;
        if code != 200 {
            let conf = std::fs::read_to_string(nginx.conf_dir.join("dozor.conf")).unwrap();
            panic!("{code} for 127.0.0.1 with\n{conf}");
        }
    }

    let flood = Instant::now();
    let mut sent = 0;
    loop {
        let code = status(&five, &nginx, "app.test", "/").await;
        sent += 1;
        if code == 403 {
            break;
        }
        assert_eq!(code, 200);
        assert!(
            flood.elapsed() < Duration::from_secs(20),
            "not blocked after {sent} requests"
        );
    }
    let to_block = flood.elapsed();
    eprintln!("flood start to block: {to_block:?} ({sent} requests)");
    assert_eq!(
        status(&six, &nginx, "app.test", "/").await,
        200,
        "others are served"
    );
    assert_eq!(status(&local, &nginx, "app.test", "/").await, 200);

    // Reported to the server, shown where a person looks, counted.
    let b = eventually(15, || async {
        blocks(&base, &token)
            .await
            .into_iter()
            .find(|b| b["address"] == "127.0.0.5")
    })
    .await;
    assert_eq!(
        (b["host"].as_str(), b["reason"].as_str()),
        (Some("web-1"), Some("rate"))
    );
    assert_eq!(b["service"], "prot");
    let admin = web_session(&server).await;
    // The block, and 127.0.0.6 among the busiest addresses (127.0.0.1,
    // allowlisted, is not counted).
    let page = eventually(15, || async {
        let page = support::web::get(&base, "/security", &admin)
            .await
            .text()
            .await
            .unwrap();
        page.contains("<code>127.0.0.6</code>").then_some(page)
    })
    .await;
    assert!(page.contains("127.0.0.5") && page.contains("too many requests"));
    assert!(!page.contains("<code>127.0.0.1</code>"), "{page}");
    let q = r#"dozor_waf_blocks_total{service="prot",reason="rate"}"#;
    eventually(15, || async {
        let v: Value = reqwest::Client::new()
            .get(format!("{base}/prometheus/api/v1/query"))
            .bearer_auth(&token)
            .query(&[("query", q)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (v["data"]["result"][0]["value"][1] == "1").then_some(())
    })
    .await;

    // The block ends by itself (6 s).
    eventually(20, || async {
        (status(&five, &nginx, "app.test", "/").await == 200).then_some(())
    })
    .await;
    assert!(flood.elapsed() >= Duration::from_secs(6));

    // An admin's block and unblock, through the desired state.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/blocks"))
        .bearer_auth(&token)
        .json(&json!({"address": "127.0.0.7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let seven = client("127.0.0.7");
    eventually(15, || async {
        (status(&seven, &nginx, "app.test", "/").await == 403).then_some(())
    })
    .await;
    let r = http
        .delete(format!("{base}/api/v1/blocks/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    eventually(15, || async {
        (status(&seven, &nginx, "app.test", "/").await == 200).then_some(())
    })
    .await;
    let r = http
        .post(format!("{base}/api/v1/blocks"))
        .bearer_auth(&token)
        .json(&json!({"address": "127.0.0.0/8"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "127.0.0.1 is on the allowlist");
    assert!(r.text().await.unwrap().contains("allowlist"));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_on_two_hosts_block_everywhere_and_a_later_host_follows() {
    let Some(image) = busybox("httpd-f") else {
        return;
    };
    let (Some(n1), Some(n2), Some(n3)) = (Nginx::start(), Nginx::start(), Nginx::start()) else {
        return;
    };
    let run = format!("fleet{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let token = api_token(&server, dozor_server::storage::Scope::Admin).await;
    let base = server.url();
    let interval = Duration::from_secs(1);
    let (_a1, s1, _) = support::nginx::start_agent(&server, "web-1", interval, &n1, None).await;
    let (_a2, s2, _) = support::nginx::start_agent(&server, "web-2", interval, &n2, None).await;
    put_settings(&base, &token, |s| {
        // The local bad-path rule must not fire first: the fleet rule
        // is under test.
        s["bad_paths"]["limit"] = json!(1000);
        s["fleet_spread"] = json!(2);
    })
    .await;
    for (i, host) in ["web-1", "web-2", "web-3"].iter().enumerate() {
        replica(
            &image.0,
            &run,
            &format!("dz-{run}-{i}"),
            &format!("fleet{i}"),
        );
        if *host != "web-3" {
            create_service(
                &base,
                &token,
                &format!("fleet{i}"),
                host,
                &format!("app{i}.test"),
            )
            .await;
        }
    }
    let eight = client("127.0.0.8");
    let other = client("127.0.0.9");
    for (n, host) in [(&n1, "app0.test"), (&n2, "app1.test")] {
        steadily_served(&other, n, host).await;
        assert_eq!(status(&eight, n, host, "/.env").await, 404);
        assert_eq!(status(&eight, n, host, "/wp-login.php").await, 404);
    }
    let b = eventually(20, || async {
        blocks(&base, &token)
            .await
            .into_iter()
            .find(|b| b["address"] == "127.0.0.8" && b["reason"] == "fleet")
    })
    .await;
    assert!(b["host"].is_null(), "every host: {b}");
    for (n, host) in [(&n1, "app0.test"), (&n2, "app1.test")] {
        eventually(20, || async {
            (status(&eight, n, host, "/").await == 403).then_some(())
        })
        .await;
        assert_eq!(status(&other, n, host, "/").await, 200);
    }

    // A host that enrols now denies it too.
    let (_a3, s3, _) = support::nginx::start_agent(&server, "web-3", interval, &n3, None).await;
    create_service(&base, &token, "fleet2", "web-3", "app2.test").await;
    steadily_served(&other, &n3, "app2.test").await;
    eventually(20, || async {
        (status(&eight, &n3, "app2.test", "/").await == 403).then_some(())
    })
    .await;
    for s in [s1, s2, s3] {
        s.cancel();
    }
}
