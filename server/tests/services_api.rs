//! `/api/v1/services` against a real server: hostile values in every field
//! get 400 naming the field and are never stored or rendered; two services
//! cannot claim one domain and path on a host; scopes decide who writes;
//! the host's desired state carries the services with their error pages.

use crate::support;

use dozor_server::storage::Scope;
use serde_json::{json, Value};
use support::*;

async fn post(base: &str, token: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

const HOSTILE: [&str; 6] = [
    "x; return 200 pwned",
    "x}\nserver { listen 81; }",
    "$host",
    "x\"y",
    "x#y",
    "x{y",
];

#[tokio::test]
async fn hostile_services_are_refused_and_never_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let (_agent, stop) =
        support::agents::start_agent(&server, "web-1", std::time::Duration::from_secs(1)).await;
    let base = server.url();
    let writer = api_token(&server, Scope::Write).await;
    let good = json!({"name": "app", "host": "web-1", "domains": ["App.Test"], "port": 8080});

    for p in HOSTILE {
        let cases = [
            (
                "name",
                json!({"name": p, "host": "web-1", "domains": ["a.test"]}),
            ),
            (
                "domains",
                json!({"name": "h", "host": "web-1", "domains": [p]}),
            ),
            (
                "path",
                json!({"name": "h", "host": "web-1", "domains": ["a.test"], "path": format!("/{p}")}),
            ),
            (
                "static_upstreams",
                json!({"name": "h", "host": "web-1", "domains": ["a.test"], "static_upstreams": [format!("10.0.0.1:80{p}")]}),
            ),
            (
                "max_body",
                json!({"name": "h", "host": "web-1", "domains": ["a.test"], "max_body": format!("1m{p}")}),
            ),
            (
                "headers",
                json!({"name": "h", "host": "web-1", "domains": ["a.test"], "headers": [["X-A", p]]}),
            ),
        ];
        for (field, body) in cases {
            let (status, v) = post(&base, &writer, body).await;
            assert_eq!(status, 400, "{field} = {p:?}: {v}");
            assert_eq!(v["field"], field, "{field} = {p:?}: {v}");
        }
    }
    // A field the API does not know, or of the wrong type: 400 naming it.
    let (status, v) = post(
        &base,
        &writer,
        json!({"name": "h", "host": "web-1", "domains": ["a.test"], "root": "/etc"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = post(
        &base,
        &writer,
        json!({"name": "h", "host": "web-1", "domains": ["a.test"], "port": "80; x"}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("port")), "{v}");
    // An agent that does not exist.
    let (status, v) = post(
        &base,
        &writer,
        json!({"name": "h", "host": "nowhere", "domains": ["a.test"]}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("host")), "{v}");
    // Nothing of the above was stored.
    let list: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/services"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["services"], json!([]), "{list}");

    // Scopes: a read token cannot write.
    let reader = api_token(&server, Scope::Read).await;
    assert_eq!(post(&base, &reader, good.clone()).await.0, 403);
    let (status, v) = post(&base, &writer, good.clone()).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["domains"], json!(["app.test"]), "normalised: {v}");
    // The same name again, and the same domain and path for another.
    assert_eq!(post(&base, &writer, good.clone()).await.1["field"], "name");
    let (status, v) = post(
        &base,
        &writer,
        json!({"name": "other", "host": "web-1", "domains": ["app.test"]}),
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("domains")), "{v}");
    let (status, _) = post(
        &base,
        &writer,
        json!({"name": "other", "host": "web-1", "domains": ["app.test"], "path": "/api"}),
    )
    .await;
    assert_eq!(status, 201, "another path on the same domain is fine");

    // The host's desired state carries both, and the page's generated
    // config holds nothing hostile.
    let agent = server.store.agent_by_name("web-1").await.unwrap().unwrap();
    let doc = server.store.desired_state(agent.id).await.unwrap().unwrap();
    let section = doc.section::<dozor_common::services::Services>().unwrap();
    assert_eq!(section.services.len(), 2);
    assert!(section.error_pages.contains_key(&503));
    let cookie = web_session(&server).await;
    let page = reqwest::Client::new()
        .get(format!("{base}/services/app"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("server_name app.test;"), "{page}");
    assert!(page.contains("location ^~ /api/"), "{page}");
    for p in HOSTILE {
        assert!(!page.contains(p), "{p:?} in the page");
    }
    // Delete: gone from the API and from the document.
    let r = reqwest::Client::new()
        .delete(format!("{base}/api/v1/services/other"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let doc = server.store.desired_state(agent.id).await.unwrap().unwrap();
    assert_eq!(
        doc.section::<dozor_common::services::Services>()
            .unwrap()
            .services
            .len(),
        1
    );
    stop.cancel();
    server.shutdown().await;
}

/// The error-page form: a template over 256 KiB gets 400 saying so, a form
/// over the route's own limit gets 413 before anything reads it, and
/// neither stores anything.
#[tokio::test]
async fn oversized_error_page_templates_are_refused_through_the_form() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let cookie = web_session(&server).await;
    let csrf = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let post = |html: String| {
        let (cookie, csrf, base) = (cookie.clone(), csrf.clone(), base.clone());
        async move {
            let r = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(format!("{base}/error-pages"))
                .header("cookie", &cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("status", "503"),
                    ("do", "save"),
                    ("html", html.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
    };
    let (status, page) = post("x".repeat((256 << 10) + 1)).await;
    assert_eq!(status, 400);
    assert!(page.contains("at most 256 KiB"), "{page}");
    // '<' is three bytes form-encoded: 300 KiB of them is over 800 KiB.
    let (status, _) = post("<".repeat(300 << 10)).await;
    assert_eq!(status, 413);
    assert!(server.store.error_pages().await.unwrap().is_empty());
    server.shutdown().await;
}
