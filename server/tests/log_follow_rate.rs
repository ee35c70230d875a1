//! Following a container that logs about 1,000 lines a second, in headless
//! Chromium: the page keeps every line, in order, with no hole, from the
//! lines it was made with through every poll after (an answer stopped at
//! its limit is followed by an immediate poll from its cursor), and keeps
//! up with the container. The figures it prints are in BENCHMARKS.md.

use crate::support;

use dozor_collector::docker::actions::Policy;
use serde_json::json;
use std::time::{Duration, Instant};
use support::chrome::{browser, js, sign_in_admin};
use support::docker::{docker, Cleanup};

/// The numbers of the `seq N` lines the page holds, in its order.
async fn shown(c: &fantoccini::Client) -> Vec<u64> {
    let v = js(
        c,
        "return [...document.querySelectorAll('.log-lines li span')].map(s => s.textContent)",
    )
    .await;
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str()?.strip_prefix("seq ")?.trim().parse().ok())
        .collect()
}

/// The container's newest line number, from Docker itself.
fn newest(name: &str) -> u64 {
    let out = docker(&["logs", "--tail", "1", name]).unwrap();
    out.trim()
        .strip_prefix("seq ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_followed_log_at_1000_lines_per_second_has_no_holes() {
    let Some(image) = support::docker::busybox("fast-logger") else {
        return;
    };
    let run = format!("rate{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let name = format!("dz-fast-{run}");
    // 100 lines, then a tenth of a second: at most 1,000 lines a second.
    let script = r#"i=0; while :; do j=0; while [ $j -lt 100 ]; do i=$((i+1)); j=$((j+1)); echo "seq $i"; done; usleep 100000; done"#;
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--name",
        &name,
        &image.0,
        "sh",
        "-c",
        script,
    ])
    .expect("the container starts");
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let (agent, stop) =
        support::agents::start_agent(&server, "web-1", Duration::from_secs(1)).await;
    dozor_collector::docker::spawn(
        agent.clone(),
        Duration::from_secs(1),
        Policy::Labelled,
        stop.clone(),
    );
    dozor_collector::actors::spawn(&agent, Policy::Labelled, &stop);
    let Some((_driver, c)) = browser().await else {
        return;
    };
    sign_in_admin(&c, &server).await;
    let store = server.store.clone();
    support::eventually(20, || {
        let store = store.clone();
        async move { (!store.containers(Some("web-1")).await.unwrap().is_empty()).then_some(()) }
    })
    .await;
    c.goto(&format!(
        "{}/containers/view?host=web-1&name={name}",
        server.url()
    ))
    .await
    .unwrap();
    let made_with = shown(&c).await;
    assert!(
        !made_with.is_empty(),
        "the page is made with the last lines"
    );

    let started = Instant::now();
    let first_newest = newest(&name);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let held = shown(&c).await;
    let elapsed = started.elapsed().as_secs_f64();
    let last_newest = newest(&name);

    let holes: Vec<(u64, u64)> = held
        .windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect();
    assert_eq!(holes, Vec::<(u64, u64)>::new(), "lines lost or repeated");
    let (lo, hi) = (held[0], *held.last().unwrap());
    let rate = (last_newest - first_newest) as f64 / elapsed;
    eprintln!(
        "follow: container wrote {rate:.0} lines/s; page holds {} lines ({lo}..={hi}), \
         {} behind the container after {elapsed:.1} s; page was made with {}",
        held.len(),
        last_newest.saturating_sub(hi),
        made_with.len()
    );
    assert!(rate > 500.0, "the container logs fast enough: {rate:.0}/s");
    // Kept up: the page followed through most of what was written (on 2
    // busy cores, a few seconds behind at most).
    assert!(
        hi >= first_newest + (last_newest - first_newest) / 2,
        "the page fell behind: shows up to {hi}, the container wrote {first_newest}..{last_newest}"
    );
    assert_eq!(
        js(
            &c,
            "return document.querySelector('section.logs').classList.contains('failed')"
        )
        .await,
        json!(false)
    );
    stop.cancel();
    server.shutdown().await;
}
