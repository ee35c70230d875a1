//! The Telegram bot through the local fake Bot API: link codes made on the
//! settings page, `/subscribe` (one-time, wrong codes reveal nothing),
//! notifications to linked chats with inline buttons, `/alerts`,
//! `/status`, `/silence` by role, the buttons, `/unsubscribe`, the token
//! set on the page and the test message.

use crate::support;

use dozor_server::storage::Role;
use std::time::Duration;
use support::telegram::{self, Fake};
use support::web::post_form as post;
use support::web::{csrf_of, get, login, pair, set_cookie};
use support::*;

const RULES: &str = "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: DiskFull\n        expr: disk_used_percent > 90\n        labels: {severity: critical}\n";

/// Makes a link code on the settings page and reads it off the page.
async fn link_code(base: &str, cookie: &str, channel: &str) -> String {
    let (status, page) = post(
        base,
        cookie,
        "/settings/telegram/code",
        &[("channel", channel)],
    )
    .await;
    assert_eq!(status, 200);
    let start = page.find("/subscribe ").expect("the code is shown") + "/subscribe ".len();
    page[start..start + 64].to_string()
}

/// The bot's next reply to `chat` after `before` messages.
async fn reply(fake: &std::sync::Arc<Fake>, chat: i64, before: usize) -> String {
    eventually(10, || {
        let fake = fake.clone();
        async move { fake.delivered(chat).get(before).cloned() }
    })
    .await
}

async fn says(fake: &std::sync::Arc<Fake>, chat: i64, text: &str) -> String {
    let before = fake.delivered(chat).len();
    fake.user_says(chat, text);
    reply(fake, chat, before).await
}

#[tokio::test]
async fn commands_buttons_and_links() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("r.yml"), RULES).unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.alerting.rules_dir = Some(rules.clone());
        c.alerting.telegram_token = Some("123:TEST".into());
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.group_wait = Duration::ZERO;
        c.alerting.bot_poll = Duration::ZERO;
    })
    .await;
    let base = server.url();
    let admin = web_session(&server).await;
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    server
        .store
        .create_user("vic", &hash, Role::Viewer, false, now_ms())
        .await
        .unwrap();
    let r = login(&base, "vic", ADMIN_PASSWORD).await;
    let viewer = format!(
        "dozor_csrf={}; {}",
        csrf_of(&admin),
        pair(&set_cookie(&r, "dozor_session").unwrap())
    );

    assert!(says(&fake, 77, "/start").await.contains("/subscribe CODE"));
    assert!(says(&fake, 77, "/alerts").await.contains("not linked"));
    let wrong = says(&fake, 77, &format!("/subscribe {}", "0".repeat(64))).await;
    assert_eq!(wrong, "That code is not valid.");
    let code = link_code(&base, &admin, "default").await;
    let ok = says(&fake, 77, &format!("/subscribe@dozor_bot {code}")).await;
    assert!(ok.starts_with("Subscribed"), "{ok}");
    let again = says(&fake, 78, &format!("/subscribe {code}")).await;
    assert_eq!(again, "That code is not valid.", "codes are one-time");

    // A linked chat receives the channel's alerts, with buttons.
    let before = fake.delivered(77).len();
    support::data::put(&server.store, "disk_used_percent", &["web<1>"], 95.0).await;
    let alert = reply(&fake, 77, before).await;
    assert!(alert.starts_with("🔥 <b>FIRING</b> DiskFull"), "{alert}");
    let sent = fake.sent();
    let keyboard = &sent.last().unwrap()["reply_markup"]["inline_keyboard"][0];
    let silence_data = keyboard[0]["callback_data"].as_str().unwrap().to_string();
    let ack_data = keyboard[1]["callback_data"].as_str().unwrap().to_string();
    assert!(silence_data.starts_with("s:") && ack_data.starts_with("a:"));

    let firing = says(&fake, 77, "/alerts").await;
    assert!(
        firing.contains("DiskFull</b> host=web&lt;1&gt;"),
        "{firing}"
    );
    let status = says(&fake, 77, "/status").await;
    assert!(status.contains("Alerts firing: 1."), "{status}");

    // A chat linked by a viewer may look but not silence.
    let vcode = link_code(&base, &viewer, "default").await;
    assert!(says(&fake, 79, &format!("/subscribe {vcode}"))
        .await
        .starts_with("Subscribed"));
    let refused = says(&fake, 79, "/silence DiskFull 1h").await;
    assert_eq!(refused, "Only editors and admins may silence alerts.");
    assert!(server.store.silences(0).await.unwrap().is_empty());

    let done = says(&fake, 77, "/silence DiskFull 2h").await;
    assert_eq!(
        done,
        "Silenced alertname=&quot;DiskFull&quot; for 2h by admin."
    );
    let bad = says(&fake, 77, "/silence host=~\"(\" 1h").await;
    assert!(
        bad.starts_with("Not silenced: matchers: 1:9: parse error: illegal regex"),
        "{bad}"
    );

    // The buttons.
    let before = fake.delivered(77).len();
    fake.user_presses(77, &ack_data);
    let ack = reply(&fake, 77, before).await;
    assert_eq!(ack, "Acknowledged DiskFull by admin.");
    let answers = fake.calls("AnswerCallbackQuery");
    assert_eq!(answers[0]["text"], "Acknowledged DiskFull by admin.");
    let before = fake.delivered(77).len();
    fake.user_presses(77, &silence_data);
    let s = reply(&fake, 77, before).await;
    assert!(s.contains("for 1h by admin"), "{s}");
    let silences = server.store.silences(0).await.unwrap();
    assert_eq!(silences.len(), 2);
    assert!(
        silences[0].matchers.contains("web<1>"),
        "the alert's exact labels"
    );
    let history = server
        .store
        .alert_history(Some("DiskFull"), 10)
        .await
        .unwrap();
    assert!(history.iter().any(|h| h.change == "acknowledged"));
    let log = server.store.audit_log(50).await.unwrap();
    for action in [
        "telegram.code",
        "telegram.link",
        "silence.create",
        "alert.acknowledge",
    ] {
        assert!(log.iter().any(|e| e.action == action), "{action} audited");
    }

    // The settings page: links listed; token from config is not editable.
    let page = get(&base, "/settings/telegram", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("configured by flag or environment"));
    assert!(page.contains("<code>77</code>") && page.contains("<code>79</code>"));
    assert!(!page.contains("name=\"token\""));
    let vpage = get(&base, "/settings/telegram", &viewer)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !vpage.contains("<code>77</code>"),
        "viewers see only their chats"
    );
    let (status, _) = post(&base, &viewer, "/settings/telegram/test", &[("chat", "5")]).await;
    assert_eq!(status, 403);
    let (_, page) = post(&base, &admin, "/settings/telegram/test", &[("chat", "5")]).await;
    assert!(page.contains("Test message sent to 5."), "{page}");
    assert!(fake.delivered(5)[0].starts_with("✅ Test message from dozor"));

    assert_eq!(
        says(&fake, 77, "/unsubscribe").await,
        "Unsubscribed from 1 channel(s)."
    );
    assert!(says(&fake, 77, "/alerts").await.contains("not linked"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_saved_on_the_page_starts_the_bot() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| {
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.bot_poll = Duration::ZERO;
    })
    .await;
    let base = server.url();
    let admin = web_session(&server).await;
    let page = get(&base, "/settings/telegram", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("No bot token yet"));
    let (_, page) = post(
        &base,
        &admin,
        "/settings/telegram/token",
        &[("token", "nonsense")],
    )
    .await;
    assert!(page.contains("Token not saved"), "{page}");
    let token = "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (_, page) = post(
        &base,
        &admin,
        "/settings/telegram/token",
        &[("token", token)],
    )
    .await;
    assert!(
        page.contains("Token saved: the bot is @dozor_bot."),
        "{page}"
    );
    assert!(page.contains("set on this page"));
    assert!(!page.contains(token), "the token is never shown back");
    let file = dir.path().join("data/telegram-token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The bot now reads updates with the new token.
    assert!(says(&fake, 3, "/start").await.contains("dozor bot"));
    server.shutdown().await;
}
