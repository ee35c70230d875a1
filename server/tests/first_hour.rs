//! The first hour of a new user, in a real headless Chromium against a
//! server configured as `dozor-server` runs by default (built-in rules
//! on, its own metrics recorded, the local collector reading this host):
//! the one-time setup link, the getting-started panel, Telegram connected
//! against the fake Bot API (token, /subscribe, a test message), a scrape
//! target that is down, the built-in ScrapeTargetDown rule edited to fire
//! at once, and its message arriving in the chat. Screenshots of every
//! step go to `target/screenshots/first-hour/`.

use crate::support;

use fantoccini::{Client, Locator};
use std::path::PathBuf;
use std::time::Duration;
use support::chrome::{browser, console_problems, js, not_blank};
use support::telegram;

const CHAT: i64 = 4242;

fn shots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let dir = target.join("screenshots/first-hour");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    not_blank(&png, &shots().join(format!("{name}.png")));
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Clicks a submit button and waits for the page it leads to.
async fn click(c: &Client, css: &str) {
    js(c, "window.__before_click = true; return true").await;
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        let loaded = js(
            c,
            "return window.__before_click === undefined && document.readyState === 'complete'",
        )
        .await;
        if loaded == serde_json::json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css}: no new page within 10 s");
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The getting-started step titled `title` is marked done.
async fn step_done(c: &Client, title: &str) -> bool {
    let script = format!(
        "return [...document.querySelectorAll('.getting-started li')].some(li => li.querySelector('strong').textContent === {title:?} && li.classList.contains('done'))"
    );
    js(c, &script).await == serde_json::json!(true)
}

#[tokio::test]
async fn a_new_user_gets_an_alert_in_telegram_within_the_first_hour() {
    let (fake, api) = telegram::start();
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server_with(&dir, None, |c| {
        // As `dozor-server` runs by default, only faster.
        c.alerting.builtin_rules = true;
        c.self_metrics_interval = Some(Duration::from_secs(2));
        c.local_collector = true;
        c.local_collector_interval = Duration::from_secs(2);
        c.alerting.default_interval = Duration::from_secs(2);
        c.alerting.group_wait = Duration::from_secs(1);
        c.alerting.telegram_api_url = Some(api.clone());
        c.alerting.bot_poll = Duration::ZERO;
    })
    .await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    c.set_window_size(1400, 1000).await.unwrap();
    let base = server.url();

    // 1. The one-time setup link the server printed.
    let setup = server
        .setup_url
        .clone()
        .expect("a fresh server offers setup");
    c.goto(&setup).await.unwrap();
    shot(&c, "01-setup").await;
    fill(&c, "input[name=username]", "ops").await;
    fill(&c, "input[name=password]", "a long first password").await;
    click(&c, "form[action='/setup'] button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css(".getting-started"))
        .await
        .unwrap();

    // 2. The overview: this host, and the checklist with Telegram and
    // Grafana still to do and the built-in rules on.
    c.wait()
        .for_element(Locator::Css(".host-card"))
        .await
        .unwrap();
    assert!(!step_done(&c, "Connect Telegram").await);
    assert!(!step_done(&c, "Connect Grafana").await);
    assert!(step_done(&c, "Alerts from the first minute").await);
    let rules_line = text(&c, ".getting-started").await;
    assert!(
        rules_line.contains("15 of 15 built-in alert rules are on"),
        "{rules_line}"
    );
    assert!(
        rules_line.contains(&format!("{base}/prometheus")),
        "the data-source URL to paste"
    );
    shot(&c, "02-getting-started").await;

    // 3. Telegram: the token, a chat linked with /subscribe, a test message.
    click(&c, ".getting-started a[href='/settings/telegram']").await;
    fill(
        &c,
        "input[name=token]",
        "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    click(
        &c,
        "form[action='/settings/telegram/token'] button[type=submit]",
    )
    .await;
    let page = text(&c, "main").await;
    assert!(page.contains("Token saved"), "{page}");
    click(
        &c,
        "form[action='/settings/telegram/code'] button[type=submit]",
    )
    .await;
    let cmd = text(&c, "code.secret").await;
    assert!(cmd.starts_with("/subscribe "), "{cmd}");
    fake.user_says(CHAT, &cmd);
    support::eventually(20, || async {
        fake.delivered(CHAT)
            .iter()
            .any(|m| m.contains("default"))
            .then_some(())
    })
    .await;
    fill(&c, "input[name=chat]", &CHAT.to_string()).await;
    click(
        &c,
        "form[action='/settings/telegram/test'] button[type=submit]",
    )
    .await;
    support::eventually(20, || async {
        fake.delivered(CHAT)
            .iter()
            .any(|m| m.to_lowercase().contains("test"))
            .then_some(())
    })
    .await;
    shot(&c, "03-telegram").await;
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(
        step_done(&c, "Connect Telegram").await,
        "Telegram ticked off"
    );

    // 4. A scrape target that is down, on this host's agent.
    c.goto(&format!("{base}/targets")).await.unwrap();
    fill(&c, "input[name=job]", "app").await;
    fill(&c, "input[name=url]", "http://127.0.0.1:9/metrics").await;
    fill(&c, "input[name=interval]", "2s").await;
    click(&c, "form[action='/targets'] button[type=submit]").await;
    shot(&c, "04-target").await;

    // 5. The built-in rule, edited to fire at once instead of after 2m.
    c.goto(&format!("{base}/rules")).await.unwrap();
    let builtin_rows = js(&c, "return [...document.querySelectorAll('table.rules tr')].filter(tr => tr.textContent.includes('built-in')).length").await;
    assert_eq!(
        builtin_rows,
        serde_json::json!(15),
        "every built-in rule is listed"
    );
    shot(&c, "05-rules").await;
    c.goto(&format!("{base}/rules/edit?builtin=ScrapeTargetDown"))
        .await
        .unwrap();
    let name = c
        .find(Locator::Css("input[name=name]"))
        .await
        .unwrap()
        .attr("readonly")
        .await
        .unwrap();
    assert!(name.is_some(), "a built-in keeps its name");
    fill(&c, "input[name=for]", "").await;
    shot(&c, "06-edit-builtin").await;
    click(&c, "button[formaction='/rules/save']").await;
    let page = text(&c, "main").await;
    assert!(page.contains("Rule ScrapeTargetDown saved"), "{page}");
    assert!(page.contains("built-in, edited by ops"), "{page}");

    // 6. The alert arrives in the chat.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let message = loop {
        if let Some(m) = fake
            .delivered(CHAT)
            .into_iter()
            .find(|m| m.contains("ScrapeTargetDown"))
        {
            break m;
        }
        if tokio::time::Instant::now() > deadline {
            c.goto(&format!("{base}/targets")).await.unwrap();
            let targets = text(&c, "main").await;
            c.goto(&format!("{base}/alerts")).await.unwrap();
            let alerts = text(&c, "main").await;
            panic!(
                "no ScrapeTargetDown message; chat got {:?}\ntargets: {targets}\nalerts: {alerts}",
                fake.delivered(CHAT)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(message.contains("app at 127.0.0.1:9 is down"), "{message}");
    c.goto(&format!("{base}/alerts")).await.unwrap();
    let alerts = text(&c, "main").await;
    assert!(alerts.contains("ScrapeTargetDown"), "{alerts}");
    shot(&c, "07-alert-firing").await;

    // 7. The same steps on a phone-sized window read without sideways
    // scrolling.
    c.set_window_size(390, 844).await.unwrap();
    for (path, name) in [
        ("/", "08-phone-overview"),
        ("/rules/edit?builtin=HostDown", "09-phone-rule"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        let wide = js(
            &c,
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
        )
        .await;
        assert_eq!(wide, serde_json::json!(true), "{path} fits a phone");
        shot(&c, name).await;
    }

    // 8. Dismissed, the panel stays away.
    c.goto(&format!("{base}/")).await.unwrap();
    click(&c, "form[action='/getting-started/dismiss'] button").await;
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(c.find(Locator::Css(".getting-started")).await.is_err());
    assert_eq!(console_problems(&c).await, Vec::<String>::new());
    server.shutdown().await;
}
