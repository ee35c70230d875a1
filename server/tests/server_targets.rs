//! Targets defined on the server: an admin adds one for a host on the
//! Targets page, the host's collector receives it with a heartbeat and
//! scrapes it; removing it retires the target and its series go stale.

use crate::support;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use support::scrape_targets::targets;
use support::*;

async fn post(base: &str, cookie: &str, path: &str, form: &[(&str, &str)]) -> String {
    let (status, body) = support::web::post_form(base, cookie, path, form).await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn targets_defined_on_the_server_reach_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let t = targets(Arc::new(AtomicBool::new(false))).await;
    let (agent, stop) =
        support::agents::start_agent(&server, "remote-host", Duration::from_secs(1)).await;
    dozor_collector::scrape::spawn(
        vec![],
        false,
        Duration::from_secs(3600),
        Duration::from_secs(1),
        agent,
        stop.clone(),
    );

    let base = server.url();
    let admin = web_session(&server).await;
    let url = format!("{t}/text");
    let bad = post(
        &base,
        &admin,
        "/targets",
        &[
            ("host", "remote-host"),
            ("job", "remote"),
            ("url", "ftp://x"),
        ],
    )
    .await;
    assert!(bad.contains("Not added: url:"), "{bad}");
    let nobody = post(
        &base,
        &admin,
        "/targets",
        &[("host", "nobody"), ("job", "remote"), ("url", &url)],
    )
    .await;
    assert!(
        nobody.contains("no active agent called \"nobody\""),
        "{nobody}"
    );
    let form = [
        ("host", "remote-host"),
        ("job", "remote"),
        ("url", url.as_str()),
        ("interval", "1s"),
        ("format", "prometheus"),
    ];
    let page = post(&base, &admin, "/targets", &form).await;
    assert!(
        page.contains("Added; remote-host starts scraping it"),
        "{page}"
    );
    assert!(post(&base, &admin, "/targets", &form)
        .await
        .contains("already has this job and URL"));

    let c = api_client(&server).await;
    eventually(20, || {
        let (c, base) = (c.clone(), base.clone());
        async move {
            (support::data::value_of(&c, &base, r#"up{job="remote"}"#)
                .await
                .as_deref()
                == Some("1"))
            .then_some(())
        }
    })
    .await;
    // Reported back on the Targets page too.
    let page = eventually(10, || {
        let (base, admin) = (base.clone(), admin.clone());
        async move {
            let p = support::web::get(&base, "/targets?host=remote-host", &admin)
                .await
                .text()
                .await
                .unwrap();
            p.contains("1 target(s), 0 down").then_some(p)
        }
    })
    .await;
    assert!(page.contains("Defined on the server") && page.contains("/targets/1/delete"));

    let page = post(&base, &admin, "/targets/1/delete", &[]).await;
    assert!(page.contains("Removed;"), "{page}");
    eventually(20, || {
        let (c, base) = (c.clone(), base.clone());
        async move {
            support::data::value_of(&c, &base, r#"up{job="remote"}"#)
                .await
                .is_none()
                .then_some(())
        }
    })
    .await;
    let log = server.store.audit_log(20).await.unwrap();
    assert!(log.iter().any(|e| e.action == "target.create"));
    assert!(log.iter().any(|e| e.action == "target.delete"));
    stop.cancel();
    server.shutdown().await;
}
