//! `dozor-server healthcheck`, the images' HEALTHCHECK: exit 0 when the
//! server on --listen answers, non-zero with the reason when it does not.

use crate::support;

use std::process::Command;
use support::*;

fn healthcheck(listen: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dozor-server"))
        .arg("healthcheck")
        .args(extra)
        .env("DOZOR_LISTEN", listen)
        .env_remove("DOZOR_DATABASE_URL")
        .output()
        .unwrap()
}

// The server runs on this test's runtime while the command blocks: two
// worker threads keep it answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_says_whether_the_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let addr = server.addr.to_string();
    let ok = healthcheck(&addr, &[]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "ok");
    let ready = healthcheck(&addr, &["--ready"]);
    assert!(ready.status.success(), "{ready:?}");
    // A wildcard listen address is asked on the loopback.
    let wildcard = format!("0.0.0.0:{}", server.addr.port());
    assert!(healthcheck(&wildcard, &[]).status.success());
    server.shutdown().await;
    let down = healthcheck(&addr, &[]);
    assert!(!down.status.success());
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("did not answer"),
        "{down:?}"
    );
}
