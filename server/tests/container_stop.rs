//! Stop and restart wait the container's own stop timeout before Docker
//! kills it (they used to force 10 s): a container given
//! `--stop-timeout 20` whose TERM handler needs 12 s shuts down cleanly
//! (exit 0), as `docker stop` would let it. Against the real Engine.

use crate::support;

use dozor_collector::docker::actions::{self, Policy};
use dozor_common::containers::{ActionRequest, TASK_RESTART, TASK_STOP};
use std::time::{Duration, Instant};
use support::docker::{docker, Cleanup};

#[tokio::test]
async fn stop_and_restart_wait_the_containers_own_stop_timeout() {
    let Some(image) =
        support::docker::busybox_image("slowstop", &[], "ENTRYPOINT [\"/bin/busybox\"]\n")
    else {
        return;
    };
    let run = format!("slowstop{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let name = format!("dz-slowstop-{run}");
    // sh as PID 1 runs its TERM trap, which takes 12 s, then exits 0.
    let script = "trap 'sleep 12; exit 0' TERM; while true; do sleep 1; done";
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--stop-timeout",
        "20",
        "--name",
        &name,
        &image.0,
        "sh",
        "-c",
        script,
    ])
    .expect("the container starts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = dozor_collector::docker::connect().await.unwrap();
    let req = ActionRequest {
        container: name.clone(),
    };

    let started = Instant::now();
    let done = actions::run(&d, TASK_STOP, &req, Policy::All)
        .await
        .unwrap()
        .message;
    let took = started.elapsed();
    assert!(done.ends_with("stopped"), "{done}");
    assert!(
        took >= Duration::from_secs(11),
        "waited the handler: {took:?}"
    );
    let state = docker(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.State.OOMKilled}}",
        &name,
    ])
    .unwrap();
    assert_eq!(state, "0 false", "a clean exit, not SIGKILL's 137");

    docker(&["start", &name]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done = actions::run(&d, TASK_RESTART, &req, Policy::All)
        .await
        .unwrap()
        .message;
    assert!(done.ends_with("restarted"), "{done}");
    let finished = docker(&["inspect", "-f", "{{.State.Running}}", &name]).unwrap();
    assert_eq!(finished, "true");
}
