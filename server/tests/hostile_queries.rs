//! Queries and rules an attacker (or a slip) could use to crash or exhaust
//! the server: deep nesting through the API, Explore and the rule editor,
//! a deep rule already stored when the server starts, and subqueries with
//! a millisecond step. Every one gets a clear refusal and the server stays
//! up.

use crate::support;

use support::web::get;
use support::web::post_form as post;
use support::*;

fn nested(open: &str, close: &str, n: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

fn deep_rule_yaml(name: &str) -> String {
    format!(
        "groups:\n- name: {name}\n  rules:\n  - alert: {name}\n    expr: {} > 0\n",
        nested("abs(", ")", 1_400, "vector(1)")
    )
}

async fn alive(base: &str) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(r.status(), 200, "the server is still up");
}

#[tokio::test]
async fn deep_and_runaway_queries_are_refused_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let api = api_client(&server).await;
    let cases = [
        (nested("abs(", ")", 1_200, "vector(1)"), "deeper than 200"),
        (nested("sum(", ")", 3_200, "vector(1)"), "deeper than 200"),
        (nested("(", ")", 3_800, "1"), "deeper than 200"),
        (format!("1{}", "+1".repeat(6_400)), "deeper than 200"),
        (format!("1{}", "+1".repeat(9_000)), "16384 bytes"),
        (
            "max_over_time(vector(1)[30d:1ms])".to_string(),
            "2592000000 steps",
        ),
        (
            "max_over_time(vector(1)[1d:1ms])".to_string(),
            "86400000 steps",
        ),
    ];
    for (q, says) in &cases {
        let started = std::time::Instant::now();
        let r = api
            .post(format!("{base}/prometheus/api/v1/query"))
            .form(&[("query", q.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{}…", &q[..20]);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errorType"], "bad_data");
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains(says), "{}…: {msg}", &q[..20]);
        assert!(started.elapsed().as_secs() < 10, "refused up front");
        alive(&base).await;
    }
    // Explore, as a viewer would.
    let session = web_session(&server).await;
    let q = nested("abs(", ")", 1_300, "vector(1)");
    let path = format!("/explore?query={}", urlencode(&q));
    let r = get(&base, &path, &session).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("deeper than 200 levels"));
    let r = get(
        &base,
        "/explore?query=max_over_time(vector(1)%5B1d%3A1ms%5D)",
        &session,
    )
    .await;
    assert!(r.text().await.unwrap().contains("86400000 steps"));
    alive(&base).await;
    server.shutdown().await;
}

#[tokio::test]
async fn rules_that_cannot_be_evaluated_are_refused_and_stored_ones_never_stop_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let admin = web_session(&server).await;
    let rule = |name: &'static str, expr: String| {
        vec![
            ("original", String::new()),
            ("name", name.to_string()),
            ("expr", expr),
            ("severity", "critical".to_string()),
        ]
    };
    let form = rule("Deep", nested("abs(", ")", 1_400, "vector(1)") + " > 0");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page) = post(&base, &admin, "/rules/save", &form).await;
    assert_eq!(status, 200);
    assert!(page.contains("deeper than 200 levels"), "{page}");
    assert!(!page.contains("saved"));
    // Parses, but fails at evaluation: refused at save too.
    let form = rule(
        "BadRegex",
        r#"label_replace(vector(1), "dst", "$1", "src", "(") > 0"#.to_string(),
    );
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, page) = post(&base, &admin, "/rules/save", &form).await;
    assert!(page.contains("cannot be evaluated"), "{page}");
    assert!(server.store.ui_rules().await.unwrap().is_empty());

    // A deep rule stored by an older version: the server starts anyway
    // and shows it as broken.
    server
        .store
        .save_ui_rule(&dozor_server::storage::UiRuleRow {
            name: "Deep".into(),
            spec: deep_rule_yaml("Deep"),
            author: "admin".into(),
            updated_ms: now_ms(),
        })
        .await
        .unwrap();
    server.shutdown().await;
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    alive(&base).await;
    let admin = web_session(&server).await;
    let list = get(&base, "/rules", &admin).await.text().await.unwrap();
    assert!(list.contains("Deep"), "{list}");
    assert!(list.contains("deeper than 200 levels"), "{list}");
    assert!(list.contains("/rules/edit?name=Deep"), "it can be fixed");
    let (_, page) = post(&base, &admin, "/rules/delete", &[("name", "Deep")]).await;
    assert!(page.contains("Rule Deep deleted."));
    server.shutdown().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
