//! The dashboard over plain HTTP: escaping of agent-supplied labels,
//! security headers, CSRF on forms, valid HTML (html5lib, strict), and
//! dashboard files that are wrong.

use crate::support;

use dozor_server::demo::{self, Demo};
use std::process::{Command, Stdio};

async fn seeded() -> (tempfile::TempDir, dozor_server::Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = support::spawn_server(&dir, None).await;
    let now = support::now_ms();
    let d = Demo {
        host: "web-1",
        last_seen_ms: now,
        hostile: true,
    };
    demo::seed(&server.store, &d, now, 3_600_000).await.unwrap();
    let cookie = support::web_session(&server).await;
    (dir, server, cookie)
}

/// html5lib in strict mode: any HTML5 parse error fails.
fn assert_valid_html(page: &str, html: &str) {
    let py = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import html5lib"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(py) = py else {
        support::missing("python3-html5lib");
        return;
    };
    let path = std::env::temp_dir().join(format!("dozor-page-{}.html", std::process::id()));
    std::fs::write(&path, html).unwrap();
    let out = Command::new(py)
        .args([
            "-c",
            "import sys, html5lib\nhtml5lib.HTMLParser(strict=True).parse(open(sys.argv[1], 'rb'))",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{page} is not valid HTML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn pages_escape_labels_send_security_headers_and_are_valid_html() {
    let (_dir, server, cookie) = seeded().await;
    let http = reqwest::Client::new();
    let app = dozor_common::services::Service {
        name: "app".into(),
        host: "web-1".into(),
        domains: vec!["app.test".into()],
        headers: vec![("X-Note".into(), "a <b> & c".into())],
        ..Default::default()
    };
    server
        .store
        .save_service(&app, true, "test", support::now_ms())
        .await
        .unwrap();
    for page in [
        "/services",
        "/services/new",
        "/services/app",
        "/services/app/edit",
        "/error-pages",
        "/error-pages?service=app&status=503",
        "/security",
        "/checks",
        "/",
        "/hosts/web-1",
        "/explore?query=node_filesystem_size_bytes",
        "/explore?query=sum(",
        "/agents",
        "/users",
        "/audit",
        "/account",
        "/alerts",
        "/silences",
        "/settings/telegram",
        "/rules",
        "/targets",
        "/containers",
        "/containers/view?host=web-1&name=x%3Cb%3E",
        "/rules/new?preset=disk&param=90",
        "/d/host?var-host=web-1",
        "/d",
        "/d/missing",
    ] {
        let resp = http
            .get(format!("{}{page}", server.url()))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_eq!(
            status,
            if page == "/d/missing" { 404 } else { 200 },
            "{page}"
        );
        let h = resp.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("<script>alert"),
            "{page} runs injected script"
        );
        assert!(
            !body.contains("<img src=x"),
            "{page} renders injected markup"
        );
        // The attribute breakout never survives: quotes and brackets in
        // label values come out as entities (the text " onerror=" may then
        // sit harmlessly inside an escaped attribute value).
        assert!(
            !body.contains("\"><img"),
            "{page} lets a label close an attribute"
        );
        // Only the one external script; nothing inline, nothing remote.
        assert_eq!(body.matches("<script").count(), 1, "{page}");
        assert!(
            !body.contains("style=\""),
            "{page} has inline style (CSP forbids it)"
        );
        // The only address a page may show is dozor's own (the Add host
        // commands, the Grafana data-source URL).
        let own = server.url();
        assert!(
            body.match_indices("http://")
                .all(|(i, _)| body[i..].starts_with(&own)),
            "{page} links elsewhere"
        );
        assert_valid_html(page, &body);
        if page == "/hosts/web-1" {
            assert!(body.contains("&lt;script&gt;alert('dev')&lt;/script&gt;"));
            // The demo host has no PSI: that panel (and its row) is hidden.
            assert!(body.contains("Load vs cores") && !body.contains("Pressure stalled"));
            assert!(
                body.len() < 150_000,
                "host page weighs {} bytes",
                body.len()
            );
        }
    }
    // Assets: hashed names, cached for good, right types; others 404.
    let page = http
        .get(server.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = page
        .split("href=\"/assets/dozor-")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let resp = http
        .get(format!("{}/assets/dozor-{css}", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/css; charset=utf-8");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let resp = http
        .get(format!("{}/assets/../Cargo.toml", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn forms_need_the_csrf_token_from_the_cookie() {
    let (_dir, server, session) = seeded().await;
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/agents", server.url()))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let pair = session.clone();
    let token = support::web::csrf_of(&session);
    let body = resp.text().await.unwrap();
    assert!(body.contains(&format!("name=\"csrf\" value=\"{token}\"")));
    let only_session = session
        .split("; ")
        .find(|c| c.starts_with("dozor_session="))
        .unwrap()
        .to_string();
    let post = |cookie: Option<String>, form: Vec<(&'static str, String)>, origin: Option<&str>| {
        let mut r = http
            .post(format!("{}/agents/web-1/revoke", server.url()))
            .form(&form);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    // Without a session the form is not even reached: back to sign-in.
    let anon = post(None, vec![("csrf", token.clone())], None)
        .await
        .unwrap();
    assert_eq!(anon.url().path(), "/login");
    // A session but no CSRF cookie, a wrong token, another site's origin:
    // refused, nothing done.
    let no_csrf = post(Some(only_session), vec![("csrf", token.clone())], None);
    assert_eq!(no_csrf.await.unwrap().status(), 403);
    assert_eq!(
        post(Some(pair.clone()), vec![("csrf", "csr_x".into())], None)
            .await
            .unwrap()
            .status(),
        403
    );
    let evil = post(
        Some(pair.clone()),
        vec![("csrf", token.clone())],
        Some("http://evil.example"),
    );
    assert_eq!(evil.await.unwrap().status(), 403);
    let agent = server.store.agent_by_name("web-1").await.unwrap().unwrap();
    assert!(agent.revoked_ms.is_none(), "a refused form changed nothing");
    // The real form works.
    let own = format!("http://{}", server.url().trim_start_matches("http://"));
    let ok = post(Some(pair), vec![("csrf", token)], Some(&own))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Revoked agent web-1"));
    let agent = server.store.agent_by_name("web-1").await.unwrap();
    assert!(agent.is_none_or(|a| a.revoked_ms.is_some()));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_dashboard_files_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let dash = dir.path().join("dashboards");
    std::fs::create_dir(&dash).unwrap();
    std::fs::write(
        dash.join("mine.toml"),
        "title = \"My <b>board</b>\"\n[[rows]]\ntitle = \"r\"\n[[rows.panels]]\ntitle = \"Load\"\nqueries = [{expr = \"node_load1\", legend = \"{{host}}\"}]\n",
    )
    .unwrap();
    std::fs::write(
        dash.join("broken.toml"),
        "title = \"x\"\n[[rows]]\ntitle = 1\n",
    )
    .unwrap();
    let (ds, errors) = dozor_ui::dashboards::load_all(Some(&dash));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].file.ends_with("broken.toml"), "{:?}", errors[0]);
    assert!(
        errors[0].message.contains("line 3") && errors[0].message.contains("title"),
        "{}",
        errors[0].message
    );
    assert!(ds.iter().any(|d| d.slug == "mine"));

    let server =
        support::spawn_server_with(&dir, None, |c| c.dashboards_dir = Some(dash.clone())).await;
    let cookie = support::web_session(&server).await;
    let page = reqwest::Client::new()
        .get(format!("{}/d/mine", server.url()))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("href=\"/d/mine?range=1h\""),
        "the good file is in navigation"
    );
    assert!(body.contains("My &lt;b&gt;board&lt;/b&gt;"));
    server.shutdown().await;
}
