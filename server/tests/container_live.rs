//! Containers end to end against the real Docker Engine: a collector
//! reports inventory and Docker events (an OOM kill, a crash-looping
//! container's restarts) to a server; the log view's endpoint fetches
//! lines through a task (exactly the printed lines in order; a tail, then
//! only newer lines after the cursor; ANSI stripped, levels found); an
//! admin stops, starts and restarts a container after confirming, a viewer
//! is refused, an unlabelled container is not touched, and every action is
//! audited. Containers and the image are removed however the test ends.
//! Required when CI=true.

use crate::support;

use dozor_collector::docker::actions::Policy;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::docker::{docker, Cleanup};
use support::*;

const HOST: &str = "dock-host";

async fn logs(base: &str, cookie: &str, q: &str) -> (u16, Value) {
    let r = support::web::get(base, &format!("/containers/logs?host={HOST}&{q}"), cookie).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn texts(v: &Value) -> Vec<String> {
    v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

/// The N of the last "out N" line.
fn last_out(v: &Value) -> Option<u64> {
    texts(v)
        .iter()
        .rev()
        .find_map(|t| t.strip_prefix("out ").and_then(|n| n.parse().ok()))
}

async fn viewer_session(server: &dozor_server::Server) -> String {
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    server
        .store
        .create_user(
            "viewer",
            &hash,
            dozor_server::storage::Role::Viewer,
            false,
            now_ms(),
        )
        .await
        .unwrap();
    let r = support::web::login(&server.url(), "viewer", ADMIN_PASSWORD).await;
    let session =
        support::web::pair(&support::web::set_cookie(&r, "dozor_session").expect("a session"));
    let (_, csrf, _) = support::web::form_page(&server.url(), "/login").await;
    format!("{csrf}; {session}")
}

#[tokio::test]
async fn inventory_events_logs_and_actions() {
    let Some(image) = support::docker::busybox("live") else {
        return;
    };
    let image = image.0.as_str();
    let run = format!("live{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let name = |what: &str| format!("dz-{what}-{run}");
    let label = format!("dozor.test={run}");
    let start = |what: &str, extra: &[&str], script: &str| {
        let n = name(what);
        let mut args = vec!["run", "-d", "--label", &label, "--name", &n];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[image, "sh", "-c", script]);
        docker(&args).expect("the container starts");
    };
    start(
        "logger",
        &[
            "--label",
            "dozor.actions=true",
            "--label",
            "note=<script>x</script>",
        ],
        r#"trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo "out $i"; echo "{\"level\":\"error\",\"n\":$i}" >&2; printf '\033[31mred\033[0m\n'; sleep 0.2; done"#,
    );
    start("plain", &[], "sleep 3600");
    start(
        "known",
        &[],
        r#"for i in 1 2 3 4 5; do echo "out $i"; sleep 0.05; echo "err $i" >&2; sleep 0.05; done; sleep 3600"#,
    );
    start("flap", &["--restart", "always"], "sleep 1; exit 1");

    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (agent, stop) = support::agents::start_agent(&server, HOST, Duration::from_secs(1)).await;
    dozor_collector::docker::spawn(
        agent.clone(),
        Duration::from_secs(1),
        dozor_collector::docker::actions::Policy::Labelled,
        stop.clone(),
    );
    dozor_collector::actors::spawn(&agent, Policy::Labelled, &stop);
    // After the event stream is up, so its OOM is seen as it happens.
    tokio::time::sleep(Duration::from_secs(2)).await;
    start(
        "oom",
        &[
            "--memory",
            "24m",
            "--memory-swap",
            "24m",
            "--shm-size",
            "256m",
        ],
        "sleep 1; dd if=/dev/zero of=/dev/shm/x bs=1048576 count=200",
    );

    // Inventory reaches the server, with the OOM and the restarts.
    let store = server.store.clone();
    let rows = eventually(40, || {
        let store = store.clone();
        let (oom, flap) = (name("oom"), name("flap"));
        async move {
            let rows = store.containers(Some(HOST)).await.unwrap();
            let f = |n: &str| {
                rows.iter()
                    .find(|r| r.info.name == n)
                    .map(|r| r.info.clone())
            };
            let ok = f(&oom).is_some_and(|i| i.oom_killed && i.state == "exited")
                && f(&flap).is_some_and(|i| i.restart_count >= 1);
            ok.then_some(rows)
        }
    })
    .await;
    let logger = rows.iter().find(|r| r.info.name == name("logger")).unwrap();
    assert_eq!(logger.info.state, "running");
    assert_eq!(logger.info.image, image);
    assert!(
        logger.info.command.contains("sh -c"),
        "{}",
        logger.info.command
    );
    assert_eq!(logger.info.labels["note"], "<script>x</script>");
    assert!(logger
        .info
        .started_ms
        .is_some_and(|s| s > now_ms() - 120_000));
    let oom = rows.iter().find(|r| r.info.name == name("oom")).unwrap();
    assert_eq!(oom.info.memory_limit, Some(24 << 20));
    assert!(oom.info.is_problem());

    // Docker's events, in the container's history.
    let events = |c: String| {
        let store = store.clone();
        async move { store.container_events(HOST, &c, 100).await.unwrap() }
    };
    eventually(20, || {
        let ev = events(name("oom"));
        async move {
            ev.await
                .iter()
                .any(|e| e.event.action == "oom" && e.source == "docker")
                .then_some(())
        }
    })
    .await;
    let flap_events = events(name("flap")).await;
    assert!(flap_events
        .iter()
        .any(|e| e.event.action == "die" && e.event.detail.as_deref() == Some("exit code 1")));
    assert!(flap_events.iter().any(|e| e.event.action == "start"));
    assert!(flap_events
        .iter()
        .any(|e| e.event.action == "appeared" && e.source == "inventory"));

    // The series rules alert on.
    let c = api_client(&server).await;
    let base = server.url();
    let q = format!(
        "dozor_container_oom_kills_total{{container=\"{}\"}}",
        name("oom")
    );
    eventually(20, || {
        let (c, base, q) = (c.clone(), base.clone(), q.clone());
        async move {
            (support::data::value_of(&c, &base, &q).await.as_deref() == Some("1")).then_some(())
        }
    })
    .await;
    let q = format!(
        "increase(dozor_container_restarts_total{{container=\"{}\"}}[5m]) > 0",
        name("flap")
    );
    eventually(30, || {
        let (c, base, q) = (c.clone(), base.clone(), q.clone());
        async move { support::data::value_of(&c, &base, &q).await.map(|_| ()) }
    })
    .await;

    // Logs on demand: the tail, then only what came after the cursor.
    let admin = web_session(&server).await;
    let who = format!("name={}", name("logger"));
    let t0 = Instant::now();
    let (status, first) = logs(&base, &admin, &format!("{who}&tail=6")).await;
    let took = t0.elapsed();
    assert_eq!(status, 200, "{first}");
    eprintln!("first log fetch took {took:?}");
    let lines = first["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 6, "{first}");
    assert!(lines
        .iter()
        .any(|l| l["stream"] == "stderr" && l["level"] == "error"));
    assert!(
        texts(&first).iter().any(|t| t == "red"),
        "ANSI stripped: {first}"
    );
    let n1 = last_out(&first).expect("an stdout line");
    let cursor = first["cursor"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let since = format!("{who}&since={}", cursor.replace('+', "%2B"));
    let (status, next) = logs(&base, &admin, &since).await;
    assert_eq!(status, 200, "{next}");
    let first_new = texts(&next)
        .iter()
        .find_map(|t| t.strip_prefix("out ").and_then(|n| n.parse::<u64>().ok()))
        .expect("newer stdout lines");
    assert_eq!(first_new, n1 + 1, "no line lost or repeated: {next}");
    let (_, only_err) = logs(&base, &admin, &format!("{who}&stdout=0&tail=10")).await;
    assert!(only_err["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["stream"] == "stderr"));
    // Exactly what was printed, in order, each line with its stream.
    let (_, known) = logs(&base, &admin, &format!("name={}&tail=100", name("known"))).await;
    let got: Vec<(String, String)> = known["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap().into(),
                l["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = (1..=5)
        .flat_map(|i| {
            [
                ("stdout".into(), format!("out {i}")),
                ("stderr".into(), format!("err {i}")),
            ]
        })
        .collect();
    assert_eq!(got, want);
    let (status, gone) = logs(&base, &admin, "name=no-such-container").await;
    assert_eq!(status, 404, "{gone}");
    assert!(
        gone["error"]
            .as_str()
            .unwrap()
            .starts_with("container gone"),
        "{gone}"
    );
    let r = support::web::get(&base, "/containers/logs?host=nobody&name=x", &admin).await;
    assert_eq!(r.status(), 404);
    let (status, bad) = logs(&base, &admin, &format!("{who}&since=yesterday")).await;
    assert_eq!(status, 400, "{bad}");
    // A name is a path segment of the Engine's API: nothing else gets through.
    let (status, bad) = logs(&base, &admin, "name=..%2F..%2Fimages%2Fjson%3F").await;
    assert_eq!(status, 400, "{bad}");

    support::container_pages::check(&base, &admin, HOST, &run).await;

    // Actions: viewers refused; stop asks first; unlabelled refused by the agent.
    let viewer = viewer_session(&server).await;
    let logger_name = name("logger");
    let act = |action: &'static str, confirm: bool, who: String| {
        let mut f = vec![
            ("host", HOST.to_string()),
            ("name", who),
            ("action", action.to_string()),
        ];
        if confirm {
            f.push(("confirm", "yes".into()));
        }
        f
    };
    // Follows the redirect to the outcome, as a browser does.
    let post = |cookie: String, f: Vec<(&'static str, String)>| {
        let base = base.clone();
        async move {
            let mut form = vec![("csrf", support::web::csrf_of(&cookie))];
            form.extend(f);
            let r = reqwest::Client::new()
                .post(format!("{base}/containers/action"))
                .header("cookie", &cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, _) = post(viewer.clone(), act("stop", true, logger_name.clone())).await;
    assert_eq!(status, 403);
    let (status, ask) = post(admin.clone(), act("stop", false, logger_name.clone())).await;
    assert_eq!(status, 200);
    assert!(ask.contains("Yes, stop"), "confirmation first");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &logger_name]).unwrap(),
        "running"
    );
    let (_, done) = post(admin.clone(), act("stop", true, logger_name.clone())).await;
    assert!(done.contains(&format!("{logger_name} stopped")), "{done}");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &logger_name]).unwrap(),
        "exited"
    );
    let (_, done) = post(admin.clone(), act("start", false, logger_name.clone())).await;
    assert!(done.contains(&format!("{logger_name} started")), "{done}");
    // The POST answers with a redirect, so a reload shows, never repeats.
    let form = [
        ("host", HOST),
        ("name", logger_name.as_str()),
        ("action", "start"),
    ];
    let (status, _) = support::web::post_form(&base, &admin, "/containers/action", &form).await;
    assert_eq!(status, 303);
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &logger_name]).unwrap(),
        "running"
    );
    let (_, done) = post(admin.clone(), act("restart", true, logger_name.clone())).await;
    assert!(done.contains(&format!("{logger_name} restarted")), "{done}");
    eventually(15, || {
        let ev = events(logger_name.clone());
        async move {
            ev.await
                .iter()
                .any(|e| e.event.action == "restart")
                .then_some(())
        }
    })
    .await;
    let (_, refused) = post(admin.clone(), act("restart", true, name("plain"))).await;
    assert!(refused.contains("is not managed by dozor"), "{refused}");
    let (status, _) = post(admin.clone(), act("remove", true, logger_name.clone())).await;
    assert_eq!(status, 400, "only the task kinds dozor knows");
    let (status, _) = post(admin.clone(), act("stop", true, "../../build?t=x".into())).await;
    assert_eq!(status, 400, "not a container name");

    // A user's log fetches are rate-limited (each is a task and Docker work).
    let mut limited = 0;
    for _ in 0..30 {
        let (status, body) = logs(&base, &admin, "name=-").await;
        if status == 429 {
            limited += 1;
            assert!(body["error"].as_str().unwrap().contains("too many"));
        }
    }
    assert!(limited > 0, "30 fetches at once are over the burst of 20");

    let log = server.store.audit_log(50).await.unwrap();
    for action in ["container.stop", "container.start", "container.restart"] {
        assert!(log.iter().any(|e| e.action == action), "{action} audited");
    }
    assert_eq!(
        log.iter().filter(|e| e.action == "container.stop").count(),
        1,
        "viewer and unconfirmed attempts did nothing"
    );
    stop.cancel();
    server.shutdown().await;
}
