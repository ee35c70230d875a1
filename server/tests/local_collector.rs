//! The server's built-in collector, as the README's first command runs it:
//! this host's metrics and containers arrive without any agent to enrol,
//! and logs and actions go through its in-process task channel, exactly
//! as they do for a remote collector. Needs the Docker Engine.

use crate::support;

use std::time::Duration;
use support::docker::{docker, Cleanup};
use support::*;

#[tokio::test]
async fn built_in_collector_reports_this_host_and_runs_container_tasks() {
    let Some(image) = support::docker::busybox("local") else {
        return;
    };
    let run = format!("local{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let name = format!("dz-local-{run}");
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--label",
        "dozor.actions=true",
        "--name",
        &name,
        &image.0,
        "sh",
        "-c",
        "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo \"local $i\"; sleep 0.2; done",
    ])
    .expect("the container starts");
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.local_collector = true;
        c.local_collector_interval = Duration::from_secs(1);
    })
    .await;
    let store = server.store.clone();
    let host = eventually(20, || {
        let store = store.clone();
        async move {
            let agents = store.list_agents().await.unwrap();
            agents
                .into_iter()
                .find(|a| a.kind == "local")
                .map(|a| a.name)
        }
    })
    .await;
    // This host's own metrics, and its containers.
    let c = api_client(&server).await;
    let base = server.url();
    let q = format!("node_load1{{host=\"{host}\"}}");
    eventually(20, || {
        let (c, base, q) = (c.clone(), base.clone(), q.clone());
        async move { support::data::value_of(&c, &base, &q).await.map(|_| ()) }
    })
    .await;
    eventually(20, || {
        let (store, host, name) = (store.clone(), host.clone(), name.clone());
        async move {
            let rows = store.containers(Some(&host)).await.unwrap();
            rows.iter()
                .any(|r| r.info.name == name && r.info.state == "running")
                .then_some(())
        }
    })
    .await;

    let admin = web_session(&server).await;
    // Enough lines printed for a tail of 3.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let path = format!("/containers/logs?host={host}&name={name}&tail=3");
    let r = support::web::get(&base, &path, &admin).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let lines = body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines
        .iter()
        .all(|l| l["text"].as_str().unwrap().starts_with("local ")));

    let mut form = vec![("csrf", support::web::csrf_of(&admin))];
    form.extend([
        ("host", host.clone()),
        ("name", name.clone()),
        ("action", "restart".into()),
        ("confirm", "yes".into()),
    ]);
    let page = reqwest::Client::new()
        .post(format!("{base}/containers/action"))
        .header("cookie", &admin)
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("{name} restarted")), "{page}");
    server.shutdown().await;
}
