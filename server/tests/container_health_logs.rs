//! Against the real Docker Engine, without a server: a failing health
//! check makes a container unhealthy in the inventory, the health gauge
//! and Docker's `health_status` event as dozor reads it, and the agent's log reader keeps its limits (lines cut at
//! 8 KiB, the newest lines kept when over the line or byte limit, the
//! answer saying so) and its errors. Required when CI=true.

use crate::support;

use dozor_collector::docker::{logs, DockerInput};
use dozor_common::containers::LogsRequest;
use std::time::Duration;
use support::docker::{docker, Cleanup};
use support::*;

fn req(
    container: &str,
    tail: u32,
    since: Option<&str>,
    max_lines: u32,
    max_bytes: u32,
) -> LogsRequest {
    LogsRequest {
        container: container.into(),
        tail,
        since: since.map(str::to_string),
        stdout: true,
        stderr: true,
        max_lines,
        max_bytes,
    }
}

#[tokio::test]
async fn health_and_log_limits() {
    let tail = "HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD [\"/bin/busybox\", \"false\"]\nENTRYPOINT [\"/bin/busybox\"]\n";
    let Some(image) = support::docker::busybox_image("health", &[], tail) else {
        return;
    };
    // Docker replays events from here on, whenever the stream is read.
    let since = (now_ms() / 1000 - 1).to_string();
    let run = format!("health{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let label = format!("dozor.test={run}");
    let (sick, wide) = (format!("dz-sick-{run}"), format!("dz-wide-{run}"));
    let mixed = format!("dz-mixed-{run}");
    for (name, script) in [
        (&sick, "sleep 3600"),
        (
            &mixed,
            r#"i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo "out $i"; echo "err $i" >&2; done; sleep 3600"#,
        ),
        (
            &wide,
            r#"for i in 1 2 3; do head -c 10000 /dev/zero | tr '\0' x; echo; done; i=0; while [ $i -lt 50 ]; do i=$((i+1)); echo "n $i"; done; sleep 3600"#,
        ),
    ] {
        docker(&[
            "run", "-d", "--label", &label, "--name", name, &image.0, "sh", "-c", script,
        ])
        .expect("the container starts");
    }

    let mut input = DockerInput::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let series = loop {
        let s = input.collect(now_ms()).await;
        let info = input.inventory.iter().flatten().find(|i| i.name == sick);
        if info.is_some_and(|i| i.health.as_deref() == Some("unhealthy") && i.is_problem()) {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never unhealthy: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // Docker's event for it, as the collector's event follower reads it.
    let d = dozor_collector::docker::connect().await.unwrap();
    let filters = std::collections::HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![label.clone()]),
    ]);
    let opts = bollard::query_parameters::EventsOptions {
        since: Some(since),
        filters: Some(filters),
        ..Default::default()
    };
    let mut stream = d.events(Some(opts));
    let health = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = futures_util::StreamExt::next(&mut stream).await {
            match dozor_collector::docker::events::convert(&m) {
                Some(e) if e.container == sick && e.action == "health_status" => return e,
                _ => {}
            }
        }
        panic!("the event stream ended");
    })
    .await
    .expect("a health_status event");
    assert_eq!(health.detail.as_deref(), Some("unhealthy"));
    let gauge = |h: &str| {
        series
            .iter()
            .find(|b| {
                b.name == "dozor_container_health"
                    && b.labels["container"] == sick
                    && b.labels["health"] == h
            })
            .map(|b| b.samples[0].value)
    };
    assert_eq!(
        (gauge("unhealthy"), gauge("healthy")),
        (Some(1.0), Some(0.0))
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = logs::fetch(&d, &req(&wide, 1000, None, 1000, 1 << 20))
        .await
        .unwrap();
    assert_eq!(all.lines.len(), 53);
    assert!(!all.truncated);
    for l in &all.lines[..3] {
        assert_eq!(l.text.len(), logs::MAX_LINE_BYTES + '…'.len_utf8());
        assert!(l.text.ends_with('…'));
    }
    assert_eq!(all.lines[52].text, "n 50");

    // More lines after the cursor than one answer may hold: the oldest,
    // and `more`; asking again from each cursor gets the rest, none lost
    // (a followed log lags while it catches up, it never has holes).
    let mut cursor = Some("1970-01-01T00:00:01Z".to_string());
    let (mut got, mut asks) = (Vec::new(), 0);
    loop {
        let page = logs::fetch(&d, &req(&wide, 1000, cursor.as_deref(), 10, 1 << 20))
            .await
            .unwrap();
        asks += 1;
        assert!(!page.truncated);
        got.extend(page.lines.iter().map(|l| l.text.clone()));
        cursor = page.cursor.clone();
        if !page.more {
            break;
        }
        assert_eq!(page.lines.len(), 10);
    }
    let want: Vec<String> = all.lines.iter().map(|l| l.text.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(asks, 6, "53 lines, ten at a time");
    // Over the byte limit after a cursor: the first line still comes.
    let one = logs::fetch(
        &d,
        &req(&wide, 1000, Some("1970-01-01T00:00:01Z"), 1000, 1024),
    )
    .await
    .unwrap();
    assert_eq!(one.lines.len(), 1);
    assert!(one.more);

    // Over the byte limit: the newest lines that fit.
    let small = logs::fetch(&d, &req(&wide, 1000, None, 1000, 1024))
        .await
        .unwrap();
    assert!(small.truncated && !small.lines.is_empty() && small.lines.len() < 50);
    assert_eq!(small.lines.last().unwrap().text, "n 50");
    assert!(small.lines.iter().all(|l| l.text.starts_with("n ")));

    // A tail above the cap is cut to the cap, and says so; a tail under
    // it is what was asked for, not cut.
    let capped = logs::fetch(&d, &req(&wide, 5000, None, 10, 1 << 20))
        .await
        .unwrap();
    assert_eq!(capped.lines.len(), 10);
    assert!(capped.truncated, "asked for 5000, the cap is 10");
    let five = logs::fetch(&d, &req(&wide, 5, None, 1000, 1 << 20))
        .await
        .unwrap();
    assert_eq!(five.lines.len(), 5);
    assert!(!five.truncated);

    // One stream: the tail counts that stream's lines (Docker counts both
    // before filtering, which gave 4 lines for tail=8).
    for (stdout, stderr, prefix) in [(true, false, "out"), (false, true, "err")] {
        let mut one = req(&mixed, 8, None, 1000, 1 << 20);
        (one.stdout, one.stderr) = (stdout, stderr);
        let got = logs::fetch(&d, &one).await.unwrap();
        let texts: Vec<_> = got.lines.iter().map(|l| l.text.clone()).collect();
        assert_eq!(
            texts,
            (13..=20)
                .map(|i| format!("{prefix} {i}"))
                .collect::<Vec<_>>()
        );
        assert!(!got.truncated);
    }

    let mut neither = req(&wide, 10, None, 10, 1 << 20);
    (neither.stdout, neither.stderr) = (false, false);
    assert!(logs::fetch(&d, &neither).await.is_err());
    let gone = logs::fetch(&d, &req("dz-no-such-container", 10, None, 10, 1 << 20))
        .await
        .unwrap_err();
    assert!(
        matches!(&gone, dozor_common::tasks::TaskError::Gone(m) if m.starts_with("container gone")),
        "{gone:?}"
    );
}
