//! Services end to end with Debian's nginx and the Docker Engine: a
//! service created through the API is served from its labelled busybox
//! httpd containers within a couple of heartbeats; a second replica joins;
//! with none left nginx answers dozor's 503 page, and an edited page is
//! served; a config nginx refuses leaves the last good one serving and
//! shows nginx's message; an agent away while a service changed converges
//! when it returns. Prints the time from save to served.

use crate::support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::docker::{busybox, docker, Cleanup};
use support::nginx::{replica, Nginx};
use support::*;

/// Polls until `f` holds, up to `secs`; returns how long it took.
async fn within<F, Fut>(secs: u64, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}

#[tokio::test]
async fn services_are_served_by_nginx_from_labelled_containers() {
    let Some(image) = busybox("httpd") else {
        return;
    };
    let Some(nginx) = Nginx::start() else {
        return;
    };
    let run = format!("svc{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let interval = Duration::from_secs(1);
    let (_agent, stop, key) =
        support::nginx::start_agent(&server, "web-1", interval, &nginx, None).await;
    let token = api_token(&server, dozor_server::storage::Scope::Write).await;
    let http = reqwest::Client::new();
    let base = server.url();
    let one = format!("dz-{run}-1");
    replica(&image.0, &run, &one, "app");

    // Create through the API; time until nginx serves it.
    let saved = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(&token)
        .json(&json!({"name": "app", "host": "web-1", "domains": ["app.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    within(20, "served from the first replica", || async {
        nginx
            .get("app.test", "/")
            .await
            .1
            .contains(&format!("replica {one}"))
    })
    .await;
    let first = saved.elapsed();
    eprintln!("save to served: {first:?}");

    // A second replica joins the upstream.
    let two = format!("dz-{run}-2");
    replica(&image.0, &run, &two, "app");
    within(20, "both replicas serve", || async {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..6 {
            seen.insert(nginx.get("app.test", "/").await.1);
        }
        seen.iter().any(|b| b.contains(&one)) && seen.iter().any(|b| b.contains(&two))
    })
    .await;
    let page: serde_json::Value = http
        .get(format!("{base}/api/v1/services/app"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["apply"]["state"], "applied", "{page}");

    // None left: dozor's 503 page, then an edited one.
    docker(&["rm", "-f", &one, &two]).unwrap();
    within(20, "the 503 page", || async {
        let (status, body) = nginx.get("app.test", "/").await;
        status == 503 && body.contains("Temporarily unavailable") && body.contains("Request ")
    })
    .await;
    let cookie = web_session(&server).await;
    let csrf = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/error-pages"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("status", "503"),
            ("do", "save"),
            ("html", "<h1>Back soon</h1><p>id {{request_id}}</p>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    within(20, "the edited 503 page", || async {
        let (status, body) = nginx.get("app.test", "/").await;
        // The request id is nginx's: 32 hex digits.
        status == 503
            && body.contains("<h1>Back soon</h1>")
            && body
                .split("id ")
                .nth(1)
                .is_some_and(|id| id.trim_start().len() >= 32)
    })
    .await;

    // nginx refuses the next config: the last good one keeps serving and
    // the failure carries nginx's words.
    replica(&image.0, &run, &one, "app");
    // Steadily: after a reload an old worker may take a connection or two
    // with the old config.
    within(20, "served again", || async {
        for _ in 0..5 {
            if !nginx.get("app.test", "/").await.1.contains(&one) {
                return false;
            }
        }
        true
    })
    .await;
    std::fs::write(
        nginx.conf_dir.join("zz-broken.conf"),
        "bogus_directive on;\n",
    )
    .unwrap();
    let r = http
        .put(format!("{base}/api/v1/services/app"))
        .bearer_auth(&token)
        .json(&json!({"host": "web-1", "domains": ["app.test", "www.app.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let failed = within(20, "the failure reported", || async {
        let v: serde_json::Value = http
            .get(format!("{base}/api/v1/services/app"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["apply"]["state"] == "failed"
            && v["apply"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("bogus_directive"))
    })
    .await;
    eprintln!("failure reported after {failed:?}");
    let served = nginx.get("app.test", "/").await;
    assert!(
        served.1.contains(&one),
        "the last good config serves: {served:?}"
    );
    assert_eq!(
        nginx.get("www.app.test", "/").await.0,
        404,
        "the refused config is not live"
    );
    let live = std::fs::read_to_string(nginx.conf_dir.join("dozor.conf")).unwrap();
    assert!(
        !live.contains("www.app.test"),
        "the refused file was put back"
    );
    std::fs::remove_file(nginx.conf_dir.join("zz-broken.conf")).unwrap();

    // The agent is away while the service changes; it converges on return.
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = http
        .put(format!("{base}/api/v1/services/app"))
        .bearer_auth(&token)
        .json(&json!({"host": "web-1", "domains": ["app.test", "later.test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(nginx.get("later.test", "/").await.0, 404);
    let (_agent, stop, _) =
        support::nginx::start_agent(&server, "web-1", interval, &nginx, Some(key)).await;
    within(30, "converged after coming back", || async {
        nginx.get("later.test", "/").await.1.contains(&one)
    })
    .await;
    stop.cancel();
    server.shutdown().await;
}
