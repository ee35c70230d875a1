//! Container metrics against the real Docker Engine: containers built
//! `FROM scratch` with busybox-static burn CPU, hold memory and exit; the
//! collector's Docker input reports cAdvisor-named series with plausible,
//! moving values and dozor's state gauges. Every container the test makes
//! carries the `dozor.test` label and is removed however the test ends.
//! Required when CI=true.

use crate::support;

use dozor_collector::docker::DockerInput;
use dozor_common::SeriesBatch;
use std::time::Duration;
use support::docker::{docker, Cleanup};
use support::*;

fn value(
    s: &[SeriesBatch],
    name: &str,
    container: &str,
    extra: Option<(&str, &str)>,
) -> Option<f64> {
    s.iter()
        .find(|b| {
            b.name == name
                && b.labels.get("container").map(String::as_str) == Some(container)
                && extra.is_none_or(|(k, v)| b.labels.get(k).map(String::as_str) == Some(v))
        })
        .map(|b| b.samples[0].value)
}

#[tokio::test]
async fn containers_report_cpu_memory_and_state() {
    let Some(image) = support::docker::busybox("stats") else {
        return;
    };
    let image = &image.0;
    let run = std::process::id().to_string();
    let _cleanup = Cleanup(run.clone());
    let name = |what: &str| format!("dz-{what}-{run}");
    let start = |what: &str, extra: &[&str], script: &str| {
        let (label, n) = (format!("dozor.test={run}"), name(what));
        let mut args = vec!["run", "-d", "--label", &label, "--name", &n];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[image, "sh", "-c", script]);
        docker(&args).expect("the container starts");
    };
    start("burn", &[], "while :; do :; done");
    start(
        "mem",
        &["--memory", "256m"],
        "dd if=/dev/zero of=/dev/shm/x bs=1048576 count=48 2>/dev/null; sleep 3600",
    );
    start("exit", &[], "exit 3");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut input = DockerInput::default();
    let first = input.collect(now_ms()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = input.collect(now_ms()).await;

    let burn = name("burn");
    let cpu0 =
        value(&first, "container_cpu_usage_seconds_total", &burn, None).expect("cpu of the burner");
    let cpu1 = value(&second, "container_cpu_usage_seconds_total", &burn, None).unwrap();
    assert!(
        cpu1 - cpu0 > 0.5,
        "a busy loop used {} s of CPU in 1.5 s",
        cpu1 - cpu0
    );
    assert!(value(&second, "container_cpu_user_seconds_total", &burn, None).unwrap() > 0.5);
    let b = second
        .iter()
        .find(|b| b.name == "container_cpu_usage_seconds_total" && b.labels["container"] == burn)
        .unwrap();
    assert_eq!(b.labels["image"], *image);

    let mem = value(&second, "container_memory_usage_bytes", &name("mem"), None)
        .expect("memory of the holder");
    assert!(mem > 40e6 && mem < 2e9, "48 MiB held: usage {mem}");
    let ws = value(
        &second,
        "container_memory_working_set_bytes",
        &name("mem"),
        None,
    )
    .unwrap();
    assert!(ws > 40e6 && ws <= mem, "working set {ws} of usage {mem}");
    // The configured limit, as cAdvisor reports it; 0 without one (not
    // the host's RAM, which Docker's stats give).
    assert_eq!(
        value(
            &second,
            "container_spec_memory_limit_bytes",
            &name("mem"),
            None
        ),
        Some(256.0 * 1024.0 * 1024.0)
    );
    assert_eq!(
        value(&second, "container_spec_memory_limit_bytes", &burn, None),
        Some(0.0)
    );
    assert!(value(&second, "container_pids", &burn, None).unwrap() >= 1.0);
    assert!(value(&second, "container_last_seen", &burn, None).unwrap() > 1.6e9);

    let exited = name("exit");
    assert_eq!(
        value(
            &second,
            "dozor_container_state",
            &exited,
            Some(("state", "exited"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &second,
            "dozor_container_state",
            &exited,
            Some(("state", "running"))
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&second, "dozor_container_exit_code", &exited, None),
        Some(3.0)
    );
    assert_eq!(
        value(&second, "dozor_container_restarts_total", &exited, None),
        Some(0.0)
    );
    assert_eq!(
        value(
            &second,
            "dozor_container_state",
            &burn,
            Some(("state", "running"))
        ),
        Some(1.0)
    );
    assert!(
        value(&second, "container_cpu_usage_seconds_total", &exited, None).is_none(),
        "no stats for stopped containers"
    );

    // A removed container's series are marked stale on the next pass, so
    // it stops answering at once instead of for the 5-minute lookback.
    docker(&["rm", "-f", &exited]).expect("remove");
    // A container born after the first pass that has already restarted
    // when first met: its counter starts with a zero at its creation, so
    // increase() counts those restarts.
    start("crash", &["--restart", "on-failure:3"], "exit 1");
    let crash = name("crash");
    let count = || docker(&["inspect", "-f", "{{.RestartCount}}", &crash]);
    let mut restarted = false;
    for _ in 0..50 {
        if count().is_ok_and(|c| c.trim().parse::<u32>().is_ok_and(|n| n >= 1)) {
            restarted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(restarted, "the crashing container restarts");
    let third = input.collect(now_ms()).await;
    let restarts = third
        .iter()
        .find(|b| {
            b.name == "dozor_container_restarts_total" && b.labels.get("container") == Some(&crash)
        })
        .expect("restarts of the crashing container");
    assert_eq!(restarts.samples.len(), 2, "{:?}", restarts.samples);
    assert_eq!(restarts.samples[0].value, 0.0);
    assert!(restarts.samples[0].ts_ms < restarts.samples[1].ts_ms);
    assert!(restarts.samples[1].value >= 1.0);
    // Met again: one point, no second zero.
    let again = input.collect(now_ms()).await;
    let restarts = again
        .iter()
        .find(|b| {
            b.name == "dozor_container_restarts_total" && b.labels.get("container") == Some(&crash)
        })
        .unwrap();
    assert_eq!(restarts.samples.len(), 1);
    // Met at the first pass with restarts behind it: no invented zero.
    assert!(second.iter().all(|b| b.samples.len() == 1));
    let marker = value(
        &third,
        "dozor_container_state",
        &exited,
        Some(("state", "exited")),
    )
    .expect("a marker for the removed container");
    assert!(dozor_common::model::is_stale(marker), "{marker}");
    assert!(
        value(&third, "dozor_container_restarts_total", &exited, None)
            .is_some_and(dozor_common::model::is_stale)
    );
    assert!(
        value(
            &third,
            "dozor_container_state",
            &burn,
            Some(("state", "running"))
        ) == Some(1.0),
        "the others are untouched"
    );
    let fourth = input.collect(now_ms()).await;
    assert!(
        value(&fourth, "dozor_container_state", &exited, None).is_none(),
        "marked once"
    );
    assert!(
        value(&again, "dozor_container_state", &exited, None).is_none(),
        "marked once"
    );
}
