//! The server's image, built FROM scratch by scripts/image.sh (no registry,
//! no BuildKit), runs as uid 10001 with SQLite in its volume and reports
//! itself healthy through `dozor-server healthcheck` (there is no shell in
//! it). Against the real Engine.

use crate::support;

use support::docker::{docker, scratch_image, Removed};
use support::*;

#[tokio::test]
async fn the_scratch_server_image_serves_and_is_healthy() {
    if docker(&["info", "--format", "{{.ServerVersion}}"]).is_err() {
        missing("the Docker Engine");
        return;
    }
    let tag = format!("dozor-test/server:{}", std::process::id());
    let name = format!("dz-server-{}", std::process::id());
    let _removed = Removed(name.clone(), tag.clone());
    scratch_image("server", &tag);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-interval=1s",
        "-p",
        "127.0.0.1::8080",
        "-e",
        "DOZOR_NO_LOCAL_COLLECTOR=true",
        &tag,
    ])
    .expect("the server container starts");
    let status = eventually(60, || {
        let name = name.clone();
        async move {
            let s = docker(&["inspect", "-f", "{{.State.Health.Status}}", &name]).ok()?;
            (s.trim() == "healthy").then_some(s)
        }
    })
    .await;
    assert_eq!(status.trim(), "healthy");
    assert_eq!(
        docker(&["inspect", "-f", "{{.Config.User}}", &name])
            .unwrap()
            .trim(),
        "10001:10001"
    );
    let port = docker(&["port", &name, "8080/tcp"]).unwrap();
    let addr = port.lines().next().unwrap().trim().to_string();
    let body = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.starts_with("ready: sqlite"), "{body}");
}
