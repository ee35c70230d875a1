//! Scraping end to end: real HTTP servers on loopback serving text,
//! OpenMetrics and JSON; the collector's scrapers and agent loop pushing to
//! a real server; then PromQL over what arrived. Targets that time out,
//! answer 500, serve garbage or 100 MB get `up` 0 with the right error,
//! with the collector's memory bounded; a series that disappears is marked
//! stale so PromQL stops returning it. The families' type, help and unit
//! reach the metadata API.

use crate::support;

use dozor_collector::scrape;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::data::{query, value_of};
use support::scrape_targets::{target, targets};
use support::*;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn targets_are_scraped_labelled_limited_and_marked_stale() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let flip = Arc::new(AtomicBool::new(false));
    let t = targets(flip.clone()).await;
    let (agent, stop) =
        support::agents::start_agent(&server, "scraper", Duration::from_secs(3600)).await;
    let rss_before = rss_kib();
    let statuses = scrape::spawn(
        vec![
            target("text", format!("{t}/text"), |s| {
                s.labels.insert("team".into(), "core".into());
            }),
            target("om", format!("{t}/om"), |_| {}),
            target("app", format!("{t}/json"), |s| {
                s.format = Some("json".into());
                s.json_prefix = Some("app".into());
                s.json_label_keys = vec!["name".into()];
            }),
            target("slow", format!("{t}/slow"), |_| {}),
            target("fail", format!("{t}/fail"), |_| {}),
            target("garbage", format!("{t}/garbage"), |_| {}),
            target("huge", format!("{t}/huge"), |_| {}),
            target("vanish", format!("{t}/vanish"), |_| {}),
        ],
        false,
        Duration::from_secs(3600),
        Duration::from_secs(1),
        agent.clone(),
        stop.clone(),
    );
    let c = api_client(&server).await;
    let base = server.url();
    eventually(20, || {
        let (c, base) = (c.clone(), base.clone());
        async move { (query(&c, &base, "up").await.len() == 8).then_some(()) }
    })
    .await;

    // Text: the target's labels win; the body's clashing ones are kept as exported_*.
    let jobs = query(&c, &base, "jobs_done").await;
    let m = &jobs[0]["metric"];
    assert_eq!(
        (m["job"].as_str(), m["exported_job"].as_str()),
        (Some("text"), Some("inner"))
    );
    assert_eq!(
        (m["host"].as_str(), m["exported_host"].as_str()),
        (Some("scraper"), Some("evil"))
    );
    assert_eq!(m["queue"], "a,b=c}", "label values kept exactly");
    assert_eq!(m["team"], "core");
    assert_eq!(
        m["instance"].as_str().unwrap(),
        t.trim_start_matches("http://")
    );
    let q = r#"histogram_quantile(0.5, sum by (le) (lat_bucket{job="text"}))"#;
    assert_eq!(
        value_of(&c, &base, q).await.as_deref(),
        Some("0.6666666666666666")
    );
    assert_eq!(
        value_of(&c, &base, "ratio:avg5m").await.as_deref(),
        Some("NaN")
    );
    // OpenMetrics: escapes, exemplars dropped, _created not stored.
    let odd = query(&c, &base, r#"http_requests_total{job="om",code="500"}"#).await;
    assert_eq!(odd[0]["metric"]["path"], "/q=\"x\",y={z}");
    assert_eq!(odd[0]["value"][1], "2");
    assert!(query(&c, &base, r#"{__name__=~".*_created"}"#)
        .await
        .is_empty());
    // JSON.
    assert_eq!(
        value_of(&c, &base, r#"app_queues_depth{name="mail"}"#)
            .await
            .as_deref(),
        Some("4")
    );
    assert_eq!(value_of(&c, &base, "app_ok").await.as_deref(), Some("1"));
    // What the bodies say about their families reaches the metadata API.
    let meta = eventually(20, || {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let v: serde_json::Value = c
                .get(format!("{base}/prometheus/api/v1/metadata"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            v["data"]
                .get("request_latency_seconds")
                .is_some()
                .then_some(v)
        }
    })
    .await;
    assert_eq!(
        meta["data"]["request_latency_seconds"][0],
        serde_json::json!({"type": "histogram", "help": "Latency", "unit": "seconds"})
    );
    assert_eq!(
        meta["data"]["http_requests"][0]["help"],
        "Requests \"served\"\nby path"
    );
    assert_eq!(meta["data"]["jobs_done"][0]["type"], "counter");
    // Per-scrape series.
    assert_eq!(
        value_of(&c, &base, r#"scrape_samples_scraped{job="text"}"#)
            .await
            .as_deref(),
        Some("6")
    );
    for (job, up) in [
        ("text", "1"),
        ("om", "1"),
        ("app", "1"),
        ("slow", "0"),
        ("fail", "0"),
        ("garbage", "0"),
        ("huge", "0"),
    ] {
        assert_eq!(
            value_of(&c, &base, &format!("up{{job=\"{job}\"}}"))
                .await
                .as_deref(),
            Some(up),
            "{job}"
        );
    }
    let error = |job: &str| {
        statuses
            .lock()
            .unwrap()
            .values()
            .map(|s| s.lock().unwrap().clone())
            .find(|s| s.job == job)
            .unwrap()
            .error
            .unwrap_or_default()
    };
    assert_eq!(error("slow"), "timed out after 1s");
    assert_eq!(error("fail"), "HTTP 500 Internal Server Error");
    assert!(
        error("garbage").contains("first: line 1, column 1: expected a metric name, found '<'"),
        "{}",
        error("garbage")
    );
    assert_eq!(error("huge"), "body larger than the 16777216 byte limit");
    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    assert!(
        grown_mib < 64,
        "memory grew {grown_mib} MiB while refusing 100 MB bodies"
    );

    // Staleness: the series that disappears stops being returned at once.
    assert_eq!(value_of(&c, &base, "vanishing").await.as_deref(), Some("2"));
    flip.store(true, Ordering::SeqCst);
    eventually(10, || {
        let (c, base) = (c.clone(), base.clone());
        async move { query(&c, &base, "vanishing").await.is_empty().then_some(()) }
    })
    .await;
    assert_eq!(value_of(&c, &base, "keeps").await.as_deref(), Some("1"));

    // The Targets page shows what the collector reported, escaped.
    let cookie = web_session(&server).await;
    let page = eventually(10, || {
        let (base, cookie) = (base.clone(), cookie.clone());
        async move {
            let p = support::web::get(&base, "/targets?host=scraper", &cookie)
                .await
                .text()
                .await
                .unwrap();
            p.contains("8 target(s), 4 down").then_some(p)
        }
    })
    .await;
    assert!(page.contains("timed out after 1s") && page.contains("HTTP 500 Internal Server Error"));
    assert!(
        page.contains("found &#x27;&lt;&#x27;") || page.contains("found '&lt;'"),
        "the garbage error is escaped"
    );
    assert!(!page.contains("<html>not metrics"));
    stop.cancel();
    server.shutdown().await;
}
