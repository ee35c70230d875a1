//! Silences and inhibition end to end: a silence made through the UI
//! mutes an alert until expired (then it is announced), and a firing
//! "host down" rule inhibits that host's other alerts.

use crate::support;

use dozor_common::{Sample, SeriesBatch};
use support::telegram;
use support::*;

/// A silence made through the UI mutes an alert until it is expired; a
/// firing "host down" rule inhibits that host's other alerts.
#[tokio::test]
async fn silences_and_inhibition_mute_notifications() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("r.yml"),
        r#"
groups:
  - name: g
    interval: 1s
    rules:
      - alert: HostDown
        expr: host_up == 0
        inhibits: [host]
      - alert: DiskFull
        expr: disk_used_percent > 90
"#,
    )
    .unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.alerting.rules_dir = Some(rules.clone());
        c.alerting.telegram_token = Some("123:TEST".into());
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.telegram_chats = vec![5];
        c.alerting.group_wait = std::time::Duration::ZERO;
    })
    .await;
    let base = server.url();
    let cookie = web_session(&server).await;
    let csrf = support::web::csrf_of(&cookie);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let (base, cookie, csrf) = (base.clone(), cookie.clone(), csrf.clone());
        async move {
            let mut f = vec![("csrf", csrf)];
            f.extend(form);
            let r = support::web::client()
                .post(format!("{base}{path}"))
                .header("cookie", cookie)
                .form(&f)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = post(
        "/silences".into(),
        vec![
            ("matchers", r#"alertname="DiskFull", host="web-1""#.into()),
            ("duration", "1h".into()),
            ("comment", "<b>maintenance</b>".into()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("Silenced for 1h.") && body.contains("&lt;b&gt;maintenance&lt;/b&gt;"));
    support::data::put(&server.store, "disk_used_percent", &["web-1"], 95.0).await;
    // Firing but silenced: visible on the Alerts page, not sent.
    eventually(10, || {
        let s = server.store.clone();
        async move {
            let h = s.alert_history(Some("DiskFull"), 5).await.ok()?;
            (!h.is_empty()).then_some(())
        }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(fake.delivered(5).is_empty(), "silenced");
    let page = support::web::get(&base, "/alerts", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("DiskFull") && page.contains("Silence 1h"));
    let silences = server.store.silences(0).await.unwrap();
    let (status, _) = post(format!("/silences/{}/expire", silences[0].id), vec![]).await;
    assert_eq!(status, 200);
    let sent = eventually(10, || {
        let fake = fake.clone();
        async move { fake.delivered(5).first().cloned() }
    })
    .await;
    assert!(
        sent.contains("FIRING</b> DiskFull"),
        "announced once the silence ended: {sent}"
    );

    // Inhibition: web-2 is down, so its disk alert is not sent.
    let l = |h: &str| [("host".to_string(), h.to_string())].into_iter().collect();
    server
        .store
        .append(
            &[SeriesBatch::new(
                "host_up",
                l("web-2"),
                vec![Sample::new(now_ms(), 0.0)],
            )],
            now_ms(),
        )
        .await
        .unwrap();
    eventually(10, || {
        let fake = fake.clone();
        async move {
            fake.delivered(5)
                .iter()
                .any(|m| m.contains("HostDown"))
                .then_some(())
        }
    })
    .await;
    support::data::put(&server.store, "disk_used_percent", &["web-2"], 99.0).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let all = fake.delivered(5);
    assert!(
        !all.iter()
            .any(|m| m.contains("DiskFull") && m.contains("web-2")),
        "inhibited by HostDown: {all:?}"
    );
    let log = server.store.audit_log(20).await.unwrap();
    assert!(log.iter().any(|e| e.action == "silence.create"));
    assert!(log.iter().any(|e| e.action == "silence.expire"));
    server.shutdown().await;
}
