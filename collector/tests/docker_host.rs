//! `DOCKER_HOST` decides which Engine the collector talks to, and a host
//! without one just reports no containers. The variable is process-wide,
//! so this binary holds this one test only. Needs the Docker Engine's
//! socket; when CI=true its absence is a failure.

use dozor_collector::docker::DockerInput;
use std::path::Path;

const SOCKET: &str = "/var/run/docker.sock";

#[tokio::test]
async fn docker_host_is_honoured_and_no_docker_means_no_containers() {
    if !Path::new(SOCKET).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs the Docker Engine at {SOCKET}"
        );
        eprintln!("skipped: no Docker Engine at {SOCKET}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("engine.sock");
    std::os::unix::fs::symlink(SOCKET, &link).unwrap();

    std::env::set_var(
        "DOCKER_HOST",
        format!("unix://{}", dir.path().join("none.sock").display()),
    );
    let mut input = DockerInput::default();
    assert!(input.collect(1).await.is_empty(), "no Engine, no series");
    assert_eq!(input.inventory, None, "unknown, not empty");
    let err = dozor_collector::docker::connect().await.unwrap_err();
    assert!(err.starts_with("Docker not reachable"), "{err}");

    // The same input reconnects once the Engine is there, at DOCKER_HOST.
    std::env::set_var("DOCKER_HOST", format!("unix://{}", link.display()));
    assert!(dozor_collector::docker::connect().await.is_ok());
    let ids = std::process::Command::new("docker")
        .args(["ps", "-aq"])
        .output()
        .unwrap();
    let containers = String::from_utf8_lossy(&ids.stdout).lines().count();
    input.collect(2).await;
    // Others may come and go meanwhile; the input sees the Engine's list.
    let listed = input.inventory.as_ref().map(Vec::len);
    assert!(listed.is_some(), "a list once the Engine answers");
    assert!(
        containers == 0 || listed > Some(0),
        "{containers} containers, none reported"
    );
}
