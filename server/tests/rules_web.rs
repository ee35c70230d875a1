//! Rules made in the UI: presets, the preview (the rule replayed over the
//! last 6 hours, with where it would have fired), save, evaluation from
//! then on, names of file rules refused, escaping, delete, and rules
//! surviving a restart.

use crate::support;

use dozor_common::{Sample, SeriesBatch};
use support::web::get;
use support::web::post_form as post;
use support::*;

/// 6 hours of `cpu_busy{host="a"}` at 50, with 95 from 3 h to 2.5 h ago.
async fn history(store: &dozor_server::storage::Store) -> i64 {
    let now = now_ms();
    let mut samples = Vec::new();
    let mut t = now - 6 * 3_600_000;
    while t <= now - 60_000 {
        let hot = t > now - 3 * 3_600_000 && t < now - 9_000_000;
        samples.push(Sample::new(t, if hot { 95.0 } else { 50.0 }));
        t += 30_000;
    }
    let labels = [("host".to_string(), "a".to_string())]
        .into_iter()
        .collect();
    store
        .append(&[SeriesBatch::new("cpu_busy", labels, samples)], now)
        .await
        .unwrap();
    now
}

fn form<'a>(
    name: &'a str,
    expr: &'a str,
    for_: &'a str,
    summary: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("original", ""),
        ("name", name),
        ("expr", expr),
        ("for", for_),
        ("severity", "critical"),
        ("summary", summary),
        ("interval", "1s"),
    ]
}

#[tokio::test]
async fn rules_made_in_the_ui_preview_save_run_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("r.yml"),
        "groups: [{name: g, rules: [{alert: FromFile, expr: vector(1) == 2}]}]\n",
    )
    .unwrap();
    let tweak = |c: &mut dozor_server::config::Config| {
        c.alerting.rules_dir = Some(rules.clone());
    };
    let server = spawn_server_with(&dir, None, tweak).await;
    let base = server.url();
    let admin = web_session(&server).await;
    history(&server.store).await;

    // A preset fills the form.
    let page = get(&base, "/rules/new?preset=cpu&param=85", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("[5m]))) &gt; 85") || page.contains("[5m]))) > 85</textarea>"),
        "the preset's expression"
    );
    assert!(page.contains("value=\"75\""), "and its recovery threshold");
    let bad = get(&base, "/rules/new?preset=cpu&param=lots", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(bad.contains("must be a positive number"));

    // The preview replays the rule: one 30-minute episode, shaded.
    let (status, page) = post(
        &base,
        &admin,
        "/rules/preview",
        &form("HotCpu", "cpu_busy > 90", "5m", ""),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("It would have fired 1 time(s), for 1 alert(s)"),
        "{page}"
    );
    assert_eq!(page.matches("class=\"fired\"").count(), 1);
    assert!(page.contains("class=\"threshold\""), "the 90 line");
    let (_, page) = post(
        &base,
        &admin,
        "/rules/preview",
        &form("HotCpu", "cpu_busy > 99", "5m", ""),
    )
    .await;
    assert!(page.contains("It would not have fired."));
    let (_, page) = post(
        &base,
        &admin,
        "/rules/preview",
        &form("HotCpu", "cpu_busy >", "", ""),
    )
    .await;
    assert!(page.contains("expr:"), "parse errors name the field");

    // Names of rules from files are refused; bad names too.
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &form("FromFile", "up", "", ""),
    )
    .await;
    assert!(page.contains("is a rule from a rule file"));
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &form("<b>x</b>", "up", "", ""),
    )
    .await;
    assert!(page.contains("name: letters, digits") && page.contains("&lt;b&gt;x&lt;/b&gt;"));

    let hostile = "<script>alert(1)</script> on {{ $labels.host }}";
    let (_, page) = post(
        &base,
        &admin,
        "/rules/save",
        &form("HotCpu", "cpu_busy > 90", "", hostile),
    )
    .await;
    assert!(page.contains("Rule HotCpu saved"), "{page}");
    assert!(page.contains("UI (by admin)") && page.contains("FromFile"));
    assert!(!page.contains("<script>alert(1)"));
    let edit = get(&base, "/rules/edit?name=HotCpu", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains("&lt;script&gt;alert(1)&lt;/script&gt; on {{ $labels.host }}"));

    // Evaluated from now on.
    support::data::put(&server.store, "cpu_busy", &["a"], 97.0).await;
    eventually(10, || {
        let s = server.store.clone();
        async move {
            let h = s.alert_history(Some("HotCpu"), 5).await.ok()?;
            h.iter().any(|h| h.change == "firing").then_some(())
        }
    })
    .await;
    let log = server.store.audit_log(20).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "rule.save" && e.target.as_deref() == Some("HotCpu")));
    server.shutdown().await;

    // After a restart the rule is still there and still runs.
    let server = spawn_server_with(&dir, None, tweak).await;
    let base = server.url();
    let admin = web_session(&server).await;
    let list = get(&base, "/rules", &admin).await.text().await.unwrap();
    assert!(
        list.contains("HotCpu") && list.contains("1 firing"),
        "{list}"
    );
    let (_, page) = post(&base, &admin, "/rules/delete", &[("name", "HotCpu")]).await;
    assert!(page.contains("Rule HotCpu deleted."));
    assert!(!page.contains("cpu_busy &gt; 90"));
    assert!(server.store.ui_rules().await.unwrap().is_empty());
    server.shutdown().await;
}
