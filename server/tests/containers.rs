//! Container metrics against the real Docker Engine: containers built
//! `FROM scratch` with busybox-static burn CPU, hold memory and exit; the
//! collector's Docker input reports cAdvisor-named series with plausible,
//! moving values and dozor's state gauges. Every container the test makes
//! carries the `dozor.test` label and is removed however the test ends.
//! Required when CI=true.

mod support;

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
    let start = |what: &str, script: &str| {
        docker(&[
            "run",
            "-d",
            "--label",
            &format!("dozor.test={run}"),
            "--name",
            &name(what),
            image,
            "sh",
            "-c",
            script,
        ])
        .expect("the container starts");
    };
    start("burn", "while :; do :; done");
    start(
        "mem",
        "dd if=/dev/zero of=/dev/shm/x bs=1048576 count=48 2>/dev/null; sleep 3600",
    );
    start("exit", "exit 3");
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
    assert!(
        value(
            &second,
            "container_spec_memory_limit_bytes",
            &name("mem"),
            None
        )
        .unwrap()
            >= mem
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
}
