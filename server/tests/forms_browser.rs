//! Every page with a form (and, for the header's range picker, the pages
//! that draw data), in headless Chromium at a desktop width
//! (1400 px) and a phone width (390 px): no console errors or CSP
//! violations, nothing wider than the phone's screen, navigation in
//! sections on the desktop and behind one menu button on the phone, and
//! field errors shown under their field. Screenshots go to
//! `target/screenshots/forms/<page>-<width>.png` for a person to look at;
//! each must not be blank.

use crate::support;

use dozor_server::demo::{self, Demo};
use fantoccini::{Client, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use support::chrome::{browser, console_problems, full_page_screenshot, js, not_blank};

const DESKTOP: u32 = 1400;
const PHONE: u32 = 390;

/// `target/screenshots/forms`, under `CARGO_TARGET_DIR` when it is set.
fn shots_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => root.join(t),
        None => root.join("target"),
    };
    let dir = target.join("screenshots").join("forms");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sets the viewport width (and a phone-like or desktop-like height).
async fn resize(c: &Client, width: u32) {
    // The window's height includes the browser's own bars.
    let height = if width == PHONE { 844 + 140 } else { 1000 };
    c.set_window_size(width, height).await.unwrap();
    let inner = js(c, "return window.innerWidth").await;
    assert_eq!(inner, json!(width), "the viewport is {width} px wide");
}

/// The whole page, saved and checked.
async fn shoot(c: &Client, dir: &Path, name: &str, width: u32) {
    let path = dir.join(format!("{name}-{width}.png"));
    not_blank(&full_page_screenshot(c).await, &path);
}

/// Layout checks that hold on every page at `width`.
async fn check_layout(c: &Client, page: &str, width: u32, has_nav: bool) {
    let overflow = js(
        c,
        "return [document.documentElement.scrollWidth, window.innerWidth]",
    )
    .await;
    let (scroll, inner) = (overflow[0].as_i64().unwrap(), overflow[1].as_i64().unwrap());
    assert!(
        scroll <= inner + 1,
        "{page} at {width} px scrolls sideways: {scroll} > {inner}"
    );
    // Every form's label shows above its own control, never beside a
    // neighbour's.
    let detached = js(
        c,
        r#"return [...document.querySelectorAll('label.field')].filter(l => {
            const t = l.querySelector('.label'), f = l.querySelector('input, select, textarea');
            if (!t || !f) return true;
            const a = t.getBoundingClientRect(), b = f.getBoundingClientRect();
            return a.bottom > b.top + 1 || b.top - a.bottom > 12 || a.left < b.left - 1 || a.left > b.left + 1;
        }).map(l => l.textContent.trim().slice(0, 40))"#,
    )
    .await;
    assert_eq!(
        detached,
        json!([]),
        "{page} at {width} px: labels not above their controls"
    );
    if !has_nav {
        return;
    }
    let state = js(
        c,
        r#"const v = e => !!e && e.checkVisibility({visibilityProperty: true});
        return [v(document.querySelector('.menu-button')),
                [...document.querySelectorAll('.nav summary')].filter(v).length,
                [...document.querySelectorAll('.nav .menu a')].filter(v).length]"#,
    )
    .await;
    if width == PHONE {
        assert_eq!(
            state,
            json!([true, 0, 0]),
            "{page}: on a phone only the menu button shows"
        );
    } else {
        assert_eq!(
            state[0],
            json!(false),
            "{page}: no menu button on a desktop"
        );
        assert_eq!(
            state[1],
            json!(5),
            "{page}: Monitoring, Services, Alerting, Admin and the account"
        );
        assert_eq!(state[2], json!(0), "{page}: dropdowns start closed");
    }
}

async fn visit(c: &Client, dir: &Path, base: &str, path: &str, name: &str, has_nav: bool) {
    for width in [DESKTOP, PHONE] {
        resize(c, width).await;
        c.goto(&format!("{base}{path}")).await.unwrap();
        c.wait().for_element(Locator::Css("main")).await.unwrap();
        // Only pages that draw data have the range picker.
        let data = ["/", "/hosts/web-1", "/explore"].contains(&path);
        assert_eq!(
            c.find_all(Locator::Css("form.picker")).await.unwrap().len(),
            usize::from(data),
            "{path}: the range picker"
        );
        check_layout(c, path, width, has_nav).await;
        shoot(c, dir, name, width).await;
        assert_eq!(
            console_problems(c).await,
            Vec::<String>::new(),
            "{path} at {width} px: console"
        );
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn every_form_at_desktop_and_phone_widths() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let now = support::now_ms();
    let d = Demo {
        host: "web-1",
        last_seen_ms: now,
        hostile: false,
    };
    demo::seed(&server.store, &d, now, 3_600_000).await.unwrap();
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let shots = shots_dir();
    let base = server.url();

    // Before anyone signs in: the one-time setup link, then sign-in.
    let setup = server.setup_url.clone().expect("setup is pending");
    let setup = setup.trim_start_matches(&base).to_string();
    visit(&c, &shots, &base, &setup, "setup", false).await;
    visit(&c, &shots, &base, "/login", "login", false).await;

    resize(&c, DESKTOP).await;
    support::chrome::sign_in_admin(&c, &server).await;
    for (path, name) in [
        ("/account", "account"),
        ("/agents", "agents"),
        ("/silences", "silences"),
        ("/targets", "targets"),
        ("/settings/telegram", "telegram"),
        ("/users", "users"),
        ("/rules/new", "rules-new"),
        ("/d", "dashboards"),
        // Pages that draw data, for the header with the picker.
        ("/", "overview"),
        ("/hosts/web-1", "host"),
        ("/explore", "explore"),
    ] {
        visit(&c, &shots, &base, path, name, true).await;
    }

    // An invitation link, opened as the invitee would.
    resize(&c, DESKTOP).await;
    c.goto(&format!("{base}/users")).await.unwrap();
    c.find(Locator::Css("form.invite button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = c
        .wait()
        .for_element(Locator::Css("#invite-link"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let invite = link.trim().trim_start_matches(&base).to_string();
    assert!(invite.starts_with("/invite?token="), "{link}");
    visit(&c, &shots, &base, &invite, "invite", false).await;

    // The desktop dropdowns: one open at a time, the page's section marked.
    resize(&c, DESKTOP).await;
    c.goto(&format!("{base}/silences")).await.unwrap();
    let marked = js(
        &c,
        "return document.querySelector('.nav .section.active summary').textContent",
    )
    .await;
    assert_eq!(marked, json!("Alerting"));
    c.find(Locator::Css(".nav .section:first-child summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let shown = js(&c, "return [...document.querySelectorAll('.nav .menu a')].filter(a => a.checkVisibility()).map(a => a.getAttribute('href').split('?')[0])").await;
    assert_eq!(
        shown.as_array().unwrap()[..4],
        [
            json!("/"),
            json!("/containers"),
            json!("/explore"),
            json!("/d")
        ]
    );
    not_blank(
        &c.screenshot().await.unwrap(),
        &shots.join(format!("nav-monitoring-{DESKTOP}.png")),
    );
    c.find(Locator::Css(".nav .section:nth-child(4) summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The browser fires `toggle` as a task after the click, so the
    // script closing the other menu runs a moment later.
    let mut open = json!(null);
    for _ in 0..40 {
        open = js(&c, "return [...document.querySelectorAll('.nav details[open] summary')].map(s => s.textContent)").await;
        if open == json!(["Admin"]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(open, json!(["Admin"]), "opening one closes the other");
    c.find(Locator::Css("main"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('.nav details[open]').length"
        )
        .await,
        json!(0),
        "a click elsewhere closes it"
    );

    // The phone menu: the button shows the sections, a section its links.
    resize(&c, PHONE).await;
    c.goto(&format!("{base}/silences")).await.unwrap();
    c.find(Locator::Css(".menu-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(".nav .section.active summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let links = js(&c, "return [...document.querySelectorAll('.nav .menu a')].filter(a => a.checkVisibility()).map(a => a.textContent)").await;
    assert_eq!(links, json!(["Alerts", "Rules", "Silences", "Telegram"]));
    check_overflow(&c, "the open phone menu").await;
    shoot(&c, &shots, "nav-open", PHONE).await;

    // A refused form: the message under the field it is about, what was
    // typed kept.
    for width in [DESKTOP, PHONE] {
        resize(&c, width).await;
        c.goto(&format!("{base}/silences")).await.unwrap();
        fill(&c, "input[name=matchers]", "alertname=\"DiskFull\"").await;
        fill(&c, "input[name=duration]", "forever").await;
        fill(&c, "input[name=comment]", "disk swap").await;
        c.find(Locator::Css("form.silence button.primary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let err = c
            .wait()
            .for_element(Locator::Css("label.field.has-error .field-error"))
            .await
            .unwrap();
        assert!(err.text().await.unwrap().contains("duration"));
        let kept = js(&c, "return [document.querySelector('label.has-error input').name, document.querySelector('input[name=comment]').value]").await;
        assert_eq!(kept, json!(["duration", "disk swap"]));
        check_overflow(&c, "silences with an error").await;
        shoot(&c, &shots, "silences-error", width).await;
    }

    // The dark theme, on the desktop.
    resize(&c, DESKTOP).await;
    c.goto(&format!("{base}/account")).await.unwrap();
    c.find(Locator::Css(".theme-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    js(
        &c,
        "document.documentElement.dataset.theme = 'dark'; return 0",
    )
    .await;
    shoot(&c, &shots, "account-dark", DESKTOP).await;
    c.goto(&format!("{base}/targets")).await.unwrap();
    shoot(&c, &shots, "targets-dark", DESKTOP).await;
    assert_eq!(console_problems(&c).await, Vec::<String>::new());

    eprintln!("screenshots in {}", shots.display());
    c.close().await.unwrap();
    server.shutdown().await;
}

async fn check_overflow(c: &Client, what: &str) {
    let o = js(
        c,
        "return document.documentElement.scrollWidth - window.innerWidth",
    )
    .await;
    assert!(o.as_i64().unwrap() <= 1, "{what} scrolls sideways by {o}");
}
