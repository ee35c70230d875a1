//! The container pages of the live-container test (`tests/container_live.rs`),
//! checked as a browser without JavaScript gets them: escaped labels, the
//! problem highlighted, buttons only where they can work, the last log
//! lines on request, the table on the host page.

use super::web::get;

/// `run` names the test's containers (`dz-<what>-<run>`) on agent `host`.
pub async fn check(base: &str, admin: &str, host: &str, run: &str) {
    let name = |what: &str| format!("dz-{what}-{run}");
    let who = format!("name={}", name("logger"));
    // Pages: escaped labels, the problem highlighted, the table on the host page.
    let page = get(base, &format!("/containers/view?host={host}&{who}"), admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("&lt;script&gt;x&lt;/script&gt;") && !page.contains("<script>x"));
    assert!(page.contains("data-src=\"/containers/logs?host=dock-host&amp;name="));
    assert!(!page.contains("Yes, stop") && page.contains("Stop…") && !page.contains(">Start<"));
    // An unlabelled container: no button the agent would refuse, and why.
    let plain_page = get(
        base,
        &format!("/containers/view?host={host}&name={}", name("plain")),
        admin,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!plain_page.contains("Stop…") && !plain_page.contains("Restart…"));
    assert!(
        plain_page.contains("No actions: the agent refuses them here")
            && plain_page.contains("dozor.actions=true"),
        "{plain_page}"
    );
    // One that is not in the host's report: no buttons either.
    let gone_page = get(
        base,
        &format!("/containers/view?host={host}&name=never-was"),
        admin,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!gone_page.contains("Restart…") && gone_page.contains("No actions"));
    // The page comes with the last lines already in it (all a browser
    // without JavaScript shows) and the cursor the live view goes on from.
    let recent = get(base, &format!("/containers/view?host={host}&{who}"), admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(recent.contains("lines when the page was made"), "{recent}");
    assert!(
        recent.contains("<li data-stream=\"stdout\" data-ts=\""),
        "{recent}"
    );
    assert!(recent.contains("<span>out "), "{recent}");
    assert!(recent.contains("data-cursor=\""), "{recent}");
    assert!(recent.contains(">Reload</a>"));
    let fleet = get(base, "/containers", admin).await.text().await.unwrap();
    assert!(fleet.contains(&name("oom")) && fleet.contains("class=\"problem\""));
    let host_page = get(base, &format!("/hosts/{host}"), admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(host_page.contains("containers-table") && host_page.contains(&name("logger")));
}
