//! The dashboard in a real headless Chromium (Debian `chromium` +
//! `chromium-driver`, driven over WebDriver): pages load without console
//! errors or CSP violations, charts have the expected points, hover shows a
//! tooltip, the range picker changes the URL and the data, dark mode
//! applies, and injected label values stay text. Screenshots go to a temp
//! dir and must not be blank.

use crate::support;

use support::chrome::{browser, console_problems, js, not_blank};

use dozor_server::demo::{self, Demo};
use fantoccini::actions::InputSource;
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn dashboard_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let now = support::now_ms();
    for (host, seen, hostile) in [("web-1", now, true), ("db-2", now - 3_600_000, false)] {
        let d = Demo {
            host,
            last_seen_ms: seen,
            hostile,
        };
        demo::seed(&server.store, &d, now, 2 * 3_600_000)
            .await
            .unwrap();
    }
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let shots = tempfile::Builder::new()
        .prefix("dozor-shots")
        .tempdir()
        .unwrap()
        .keep();
    let base = server.url();

    // Sign in through the real form (the admin is created in storage).
    support::chrome::sign_in_admin(&c, &server).await;
    c.wait()
        .for_element(Locator::Css(".host-card"))
        .await
        .unwrap();

    // Overview: both hosts, the offline one marked, sparklines drawn.
    c.goto(&format!("{base}/")).await.unwrap();
    let cards = c.find_all(Locator::Css(".host-card")).await.unwrap();
    assert_eq!(cards.len(), 2);
    let offline = c
        .find(Locator::Css(".host-card.offline strong"))
        .await
        .unwrap();
    assert_eq!(offline.text().await.unwrap(), "db-2");
    let sparks = js(&c, "return [...document.querySelectorAll('.host-card.online .spark path')].filter(p => p.getAttribute('d').length > 20).length").await;
    assert_eq!(sparks, json!(5), "five sparklines on the online host");
    not_blank(&c.screenshot().await.unwrap(), &shots.join("overview.png"));
    assert_eq!(
        console_problems(&c).await,
        Vec::<String>::new(),
        "overview console"
    );

    // Host page: charts with the expected number of points, and the
    // injected label values shown as text, never run.
    c.goto(&format!("{base}/hosts/web-1?range=1h"))
        .await
        .unwrap();
    let points = js(&c, r#"
        const ch = [...document.querySelectorAll('figure.panel')].find(f => f.querySelector('figcaption').textContent === 'Load vs cores');
        const data = ch.querySelector('.chart').__dz.d;
        const d = ch.querySelector('path.s').getAttribute('d');
        return [data.s.length, data.s[0].v.filter(v => v !== null).length, (d.match(/[ML]/g) || []).length, data.step,
                (d.match(/M/g) || []).length, data.s[0].v.length];
    "#).await;
    // 1 h at a 15 s step is 241 steps; 4 series (load1/5/15 and cores).
    // The seeded 10-minute outage, less the 5-minute lookback, leaves about
    // 20 steps empty, and the line breaks there instead of bridging it.
    assert_eq!(points[0], json!(4), "{points}");
    assert_eq!(points[5], json!(241), "{points}");
    let drawn = points[1].as_i64().unwrap();
    assert!((215..=225).contains(&drawn), "{points}");
    assert_eq!(points[2].as_i64().unwrap(), drawn, "one vertex per point");
    assert_eq!(points[3], json!(15_000));
    assert_eq!(points[4], json!(2), "the outage splits the line in two");
    drawn_values_match_the_engine(&c, &server).await;
    let legend = js(
        &c,
        "return [...document.querySelectorAll('.legend li')].map(l => l.textContent).join('\\n')",
    )
    .await;
    assert!(
        legend.as_str().unwrap().contains(demo::INJECTION_DEVICE),
        "{legend}"
    );
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('main script, main img').length"
        )
        .await,
        json!(0)
    );
    not_blank(&c.screenshot().await.unwrap(), &shots.join("host.png"));
    assert_eq!(
        console_problems(&c).await,
        Vec::<String>::new(),
        "host console"
    );

    // Hover: the tooltip lists the series at the pointer's time.
    let svg = c.find(Locator::Css("figure.panel svg.plot")).await.unwrap();
    let mouse = fantoccini::actions::MouseActions::new("mouse".into()).then(
        fantoccini::actions::PointerAction::MoveToElement {
            element: svg,
            duration: None,
            x: 50.0,
            y: 0.0,
        },
    );
    c.perform_actions(mouse).await.unwrap();
    let tip = c
        .wait()
        .for_element(Locator::Css(".tooltip"))
        .await
        .unwrap();
    let text = tip.text().await.unwrap();
    assert!(
        text.contains("UTC") || text.contains(':'),
        "tooltip: {text}"
    );
    assert!(tip.is_displayed().await.unwrap());

    // The range picker: a preset changes the URL and the data's step.
    let select = c
        .find(Locator::Css("form.picker select[name=range]"))
        .await
        .unwrap();
    select.select_by_value("24h").await.unwrap();
    c.wait()
        .for_url(&url::Url::parse(&format!("{base}/hosts/web-1?range=24h&refresh=off")).unwrap())
        .await
        .ok();
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap_or("").contains("range=24h"), "{url}");
    let step = js(
        &c,
        "return JSON.parse(document.querySelector('.chart').dataset.chart).step",
    )
    .await;
    assert_eq!(step, json!(300_000), "24 h charts step at 5 min");

    // Legend: clicking an entry isolates its series; again shows all.
    let first = c.find(Locator::Css(".chart .legend li")).await.unwrap();
    first.click().await.unwrap();
    let off = "return document.querySelectorAll('.chart')[0].querySelectorAll('path.s.off').length";
    let paths = "return document.querySelectorAll('.chart')[0].querySelectorAll('path.s').length";
    let (n_off, n_all) = (js(&c, off).await, js(&c, paths).await);
    assert_eq!(
        n_off.as_i64().unwrap(),
        n_all.as_i64().unwrap() - 1,
        "one series left"
    );
    first.click().await.unwrap();
    assert_eq!(js(&c, off).await, json!(0));

    // Drag to zoom: the URL gets absolute from/to inside the old range.
    let before = js(&c, "return [+document.querySelector('.chart').dataset.start, +document.querySelector('.chart').dataset.end]").await;
    let svg = c.find(Locator::Css("figure.panel svg.plot")).await.unwrap();
    let drag = fantoccini::actions::MouseActions::new("drag".into())
        .then(fantoccini::actions::PointerAction::MoveToElement {
            element: svg.clone(),
            duration: None,
            x: -100.0,
            y: 0.0,
        })
        .then(fantoccini::actions::PointerAction::Down {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(fantoccini::actions::PointerAction::MoveToElement {
            element: svg,
            duration: Some(Duration::from_millis(200)),
            x: 100.0,
            y: 0.0,
        })
        .then(fantoccini::actions::PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(drag).await.unwrap();
    let mut url = c.current_url().await.unwrap();
    for _ in 0..50 {
        if url.query().unwrap_or("").contains("from=") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        url = c.current_url().await.unwrap();
    }
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let (from, to): (i64, i64) = (q["from"].parse().unwrap(), q["to"].parse().unwrap());
    let (b0, b1) = (before[0].as_i64().unwrap(), before[1].as_i64().unwrap());
    assert!(
        b0 < from && from < to && to < b1,
        "zoomed {from}..{to} within {b0}..{b1}"
    );
    assert!(!q.contains_key("range"), "{url}");

    // Auto-refresh swaps #main without a reload.
    c.goto(&format!("{base}/hosts/web-1?range=15m&refresh=5s"))
        .await
        .unwrap();
    js(&c, "window.__same_page = 1; document.querySelector('#main figure').dataset.old = '1'; return 0").await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let swapped = js(
        &c,
        "return [window.__same_page, document.querySelectorAll('#main [data-old]').length]",
    )
    .await;
    assert_eq!(swapped, json!([1, 0]), "panels replaced in place");
    c.goto(&format!("{base}/hosts/web-1?range=24h"))
        .await
        .unwrap();

    // Dark mode: the toggle sets the theme and it is remembered.
    c.find(Locator::Css(".theme-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let theme = js(&c, "return document.documentElement.dataset.theme").await;
    let bg = js(&c, "return getComputedStyle(document.body).backgroundColor").await;
    c.refresh().await.unwrap();
    assert_eq!(
        js(&c, "return document.documentElement.dataset.theme").await,
        theme
    );
    c.find(Locator::Css(".theme-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let bg2 = js(&c, "return getComputedStyle(document.body).backgroundColor").await;
    assert_ne!(bg, bg2, "the toggle changes the page colours");
    not_blank(
        &c.screenshot().await.unwrap(),
        &shots.join("host-theme.png"),
    );

    // Explore: results, and a parse error with its position marked.
    c.goto(&format!("{base}/explore?query=node_load1"))
        .await
        .unwrap();
    assert_eq!(
        c.find_all(Locator::Css("table.data tbody tr"))
            .await
            .unwrap()
            .len(),
        2
    );
    c.goto(&format!(
        "{base}/explore?query=sum(rate(node_load1%5B5m%5D)"
    ))
    .await
    .unwrap();
    let mark = c.find(Locator::Css(".error mark.err-pos")).await.unwrap();
    assert_eq!(mark.text().await.unwrap(), "(");
    assert_eq!(
        console_problems(&c).await,
        Vec::<String>::new(),
        "explore console"
    );

    // Agents: "Add host" shows commands with a fresh token.
    c.goto(&format!("{base}/agents")).await.unwrap();
    assert_eq!(
        c.find_all(Locator::Css("table.agents tbody tr"))
            .await
            .unwrap()
            .len(),
        2
    );
    c.find(Locator::Css("form[action='/agents/enroll-token'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let cmd = c
        .wait()
        .for_element(Locator::Css("#cmd-docker"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cmd.contains("DOZOR_ENROLL_TOKEN=dze_"), "{cmd}");
    not_blank(&c.screenshot().await.unwrap(), &shots.join("agents.png"));
    assert_eq!(
        console_problems(&c).await,
        Vec::<String>::new(),
        "agents console"
    );
    eprintln!("screenshots in {}", shots.display());

    c.close().await.unwrap();
    server.shutdown().await;
}

/// Each point is sent once, in the drawn path: the values the tooltip
/// reads back out of a line, a stacked band and an area are the engine's
/// answer for the same grid (to the four significant digits written).
async fn drawn_values_match_the_engine(c: &fantoccini::Client, server: &dozor_server::Server) {
    let drawn = js(
        c,
        r#"return [...document.querySelectorAll('figure.panel')].map(f => {
            const ch = f.querySelector('.chart');
            if (!ch || !ch.__dz) return null;
            const d = ch.__dz.d;
            return [f.querySelector('figcaption').textContent, d.t0, d.step, d.n,
                    d.s.map(s => [s.n, s.v])];
        }).filter(x => x)"#,
    )
    .await;
    let engine = dozor_server::storage::engine(&server.store, Default::default());
    let checks = [
        ("Load vs cores", "load1", r#"node_load1{host="web-1"}"#),
        (
            "Memory",
            "used",
            r#"node_memory_MemTotal_bytes{host="web-1"} - node_memory_MemAvailable_bytes{host="web-1"}"#,
        ),
        (
            "Memory",
            "buffers + cache",
            r#"node_memory_Buffers_bytes{host="web-1"} + node_memory_Cached_bytes{host="web-1"}"#,
        ),
        (
            "Swap",
            "used",
            r#"node_memory_SwapTotal_bytes{host="web-1"} - node_memory_SwapFree_bytes{host="web-1"}"#,
        ),
    ];
    for (panel, name, expr) in checks {
        let chart = drawn
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == panel)
            .unwrap_or_else(|| panic!("panel {panel}: {drawn}"));
        let (t0, step, n) = (
            chart[1].as_i64().unwrap(),
            chart[2].as_i64().unwrap(),
            chart[3].as_i64().unwrap(),
        );
        let got = chart[4]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s[0] == name)
            .unwrap_or_else(|| panic!("{panel}: series {name}: {chart}"))[1]
            .clone();
        let r = dozor_server::promql::Range {
            start_ms: t0,
            end_ms: t0 + (n - 1) * step,
            step_ms: step,
        };
        let dozor_server::promql::value::Value::Matrix(m) = engine.range(expr, r).await.unwrap()
        else {
            panic!("{expr}: not a matrix");
        };
        let mut want = vec![None; n as usize];
        for (t, v) in &m[0].points {
            want[((t - t0) / step) as usize] = Some(*v);
        }
        let top = want.iter().flatten().fold(0f64, |a, v| a.max(v.abs()));
        assert_eq!(got.as_array().unwrap().len(), want.len(), "{panel}/{name}");
        for (k, (g, w)) in got.as_array().unwrap().iter().zip(&want).enumerate() {
            match (g.as_f64(), w) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(
                    (g - w).abs() <= 1e-3 * w.abs() + 1e-6 * top,
                    "{panel}/{name} step {k}: drawn {g}, engine {w}"
                ),
                (g, w) => panic!("{panel}/{name} step {k}: drawn {g:?}, engine {w:?}"),
            }
        }
    }
}
