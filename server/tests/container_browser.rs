//! The live log view in headless Chromium, against a real container whose
//! output is hostile: HTML in stdout and ANSI colours on stderr. Lines
//! arrive by the page's own polling and keep arriving while following;
//! markup stays text; colours are stripped; stderr and levels are marked;
//! the filter highlights; pausing stops the tail; the CSP is never
//! violated. Also sorts the fleet table by clicking a header.

use crate::support;

use dozor_collector::docker::actions::Policy;
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;
use support::chrome::{browser, console_problems, js, sign_in_admin};
use support::docker::{docker, Cleanup};

/// Polls a script until it returns true (10 s at most).
async fn until(c: &fantoccini::Client, script: &str) {
    for _ in 0..50 {
        if js(c, script).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never true: {script}");
}

#[tokio::test]
async fn live_logs_in_headless_chromium() {
    let Some(image) = support::docker::busybox("hostile") else {
        return;
    };
    let image = image.0.as_str();
    let run = format!("browser{}", std::process::id());
    let _cleanup = Cleanup(run.clone());
    let name = format!("dz-hostile-{run}");
    let script = r#"i=0; while :; do i=$((i+1)); echo "line $i <img src=x onerror=document.title='pwned'>"; printf '\033[1;31mlevel=error\033[0m boom %s\n' $i >&2; sleep 0.3; done"#;
    docker(&[
        "run",
        "-d",
        "--label",
        &format!("dozor.test={run}"),
        "--name",
        &name,
        image,
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
        dozor_collector::docker::actions::Policy::Labelled,
        stop.clone(),
    );
    dozor_collector::actors::spawn(&agent, Policy::Labelled, &stop);
    let Some((_driver, c)) = browser().await else {
        return;
    };
    sign_in_admin(&c, &server).await;
    let base = server.url();
    // The inventory first (the fleet table), then the container's page.
    let store = server.store.clone();
    support::eventually(20, || {
        let store = store.clone();
        async move { (!store.containers(Some("web-1")).await.unwrap().is_empty()).then_some(()) }
    })
    .await;
    c.goto(&format!("{base}/containers?refresh=5s"))
        .await
        .unwrap();
    c.find(Locator::Css("#containers-table th[data-sort]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        js(
            &c,
            "return document.querySelector('#containers-table th').getAttribute('aria-sort')"
        )
        .await,
        json!("ascending")
    );
    // Auto-refresh replaces the table and keeps its order.
    js(
        &c,
        "document.querySelector('#containers-table').dataset.old = '1'",
    )
    .await;
    until(
        &c,
        "return !document.querySelector('#containers-table').dataset.old",
    )
    .await;
    assert_eq!(
        js(
            &c,
            "return document.querySelector('#containers-table th').getAttribute('aria-sort')"
        )
        .await,
        json!("ascending")
    );

    c.goto(&format!(
        "{base}/containers/view?host=web-1&name={name}&refresh=5s"
    ))
    .await
    .unwrap();
    until(
        &c,
        "return document.querySelectorAll('.log-lines li').length >= 6",
    )
    .await;
    let first = js(
        &c,
        "return document.querySelectorAll('.log-lines li').length",
    )
    .await;
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('.log-lines img').length"
        )
        .await,
        json!(0)
    );
    assert_ne!(js(&c, "return document.title").await, json!("pwned"));
    let out = js(
        &c,
        "return document.querySelector('.log-lines li.stdout span').textContent",
    )
    .await;
    assert!(
        out.as_str().unwrap().contains("<img src=x onerror="),
        "{out}"
    );
    let err = js(&c, "const l = document.querySelector('.log-lines li.stderr'); return [l.className, l.querySelector('span').textContent]").await;
    assert_eq!(err[0], json!("stderr lvl-error"), "{err}");
    let text = err[1].as_str().unwrap();
    assert!(
        text.starts_with("level=error boom ") && !text.contains('\u{1b}'),
        "{text:?}"
    );

    let shots = tempfile::Builder::new()
        .prefix("dozor-shots")
        .tempdir()
        .unwrap()
        .keep();
    eprintln!("screenshots in {}", shots.display());
    support::chrome::not_blank(&c.screenshot().await.unwrap(), &shots.join("container.png"));

    // Following: more lines arrive by themselves.
    let more = format!(
        "return document.querySelectorAll('.log-lines li').length > {}",
        first.as_i64().unwrap() + 2
    );
    until(&c, &more).await;

    // Auto-refresh redraws the charts but keeps the live log view.
    js(&c, "document.querySelector('figure.panel').dataset.old = '1'; document.querySelector('section.logs').dataset.kept = '1'").await;
    until(
        &c,
        "return !document.querySelector('figure.panel').dataset.old",
    )
    .await;
    assert_eq!(
        js(
            &c,
            "return document.querySelector('section.logs').dataset.kept"
        )
        .await,
        json!("1")
    );
    let now = js(
        &c,
        "return document.querySelectorAll('.log-lines li').length",
    )
    .await;
    let more = format!(
        "return document.querySelectorAll('.log-lines li').length > {}",
        now.as_i64().unwrap() + 2
    );
    until(&c, &more).await;

    // The filter keeps matching lines and highlights the match.
    c.find(Locator::Css(".log-filter"))
        .await
        .unwrap()
        .send_keys("boom")
        .await
        .unwrap();
    let shown = js(&c, "const li = [...document.querySelectorAll('.log-lines li')]; return [li.length, li.every(l => l.textContent.includes('boom')), document.querySelectorAll('.log-lines mark').length]").await;
    assert!(
        shown[0].as_i64().unwrap() >= 3 && shown[1] == json!(true),
        "{shown}"
    );
    assert_eq!(shown[0], shown[2], "one highlight per line");

    // Charts fill in as reports arrive.
    tokio::time::sleep(Duration::from_secs(4)).await;
    c.refresh().await.unwrap();
    until(
        &c,
        "return document.querySelectorAll('.log-lines li').length > 0",
    )
    .await;
    support::chrome::not_blank(
        &c.screenshot().await.unwrap(),
        &shots.join("container-later.png"),
    );

    // Paused: nothing new.
    c.find(Locator::Css(".log-follow"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = js(
        &c,
        "return document.querySelector('.log-status').textContent",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        js(
            &c,
            "return document.querySelector('.log-status').textContent"
        )
        .await,
        status
    );
    assert_eq!(
        console_problems(&c).await,
        Vec::<String>::new(),
        "container page console"
    );
    stop.cancel();
    server.shutdown().await;
}
