//! API tokens over plain HTTP: who may read the Prometheus and read APIs,
//! bearer and basic auth (Grafana), scopes capped by role, expiry with an
//! injected clock, the Account page's create/list/revoke, the /metrics
//! switch, and the per-agent series limit.

use crate::support;

use dozor_server::clock::Clock;
use dozor_server::ops::users::Change;
use dozor_server::storage::{Role, Scope};
use support::web::{client, get, login, pair, set_cookie};
use support::*;

const QUERY: &str = "/prometheus/api/v1/query?query=1%2B1";

async fn status(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn read_apis_need_a_read_token_or_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let c = reqwest::Client::new();
    for path in [
        QUERY,
        "/prometheus/api/v1/labels",
        "/prometheus/api/v1/status/buildinfo",
        "/prometheus/federate?match[]=up",
        "/api/v1/agents",
        "/api/v1/series",
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without credentials");
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"dozor\"");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("token")),
            "{body}"
        );
        // Prometheus's error shape on its API, which Grafana reads.
        if path.starts_with("/prometheus/") {
            assert_eq!(body["status"], "error", "{path}: {body}");
            assert_eq!(body["errorType"], "unauthorized", "{path}: {body}");
        }
    }
    let url = format!("{base}{QUERY}");
    assert_eq!(status(c.get(&url).bearer_auth("dzt_nonsense")).await, 401);
    let token = api_token(&server, Scope::Read).await;
    assert!(token.starts_with("dzt_") && token.len() == 68, "{token}");
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["data"]["result"][1], "2");
    // Grafana's basic auth: any user, the token as password; curl -u TOKEN:.
    assert_eq!(
        status(c.get(&url).basic_auth("grafana", Some(&token))).await,
        200
    );
    assert_eq!(
        status(c.get(&url).basic_auth(&token, None::<&str>)).await,
        200
    );
    // A wrong token is refused even alongside a valid session.
    let session = web_session(&server).await;
    assert_eq!(status(c.get(&url).header("cookie", &session)).await, 200);
    assert_eq!(
        status(c.get(&url).header("cookie", &session).bearer_auth("dzt_x")).await,
        401
    );
    // /metrics stays public by default, like a Prometheus exporter.
    assert_eq!(status(c.get(format!("{base}/metrics"))).await, 200);
    // Only the hash is stored.
    let listed = server.store.list_api_tokens(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_ms.is_some(), "use is recorded");
    let db = std::fs::read(dir.path().join("data/dozor.db")).unwrap();
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token itself is not in the database"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn scope_is_capped_by_role_and_tokens_expire() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(now_ms());
    let c2 = clock.clone();
    let server = spawn_server_with(&dir, None, |c| c.clock = c2).await;
    let url = format!("{}/prometheus/api/v1/write", server.url());
    let c = reqwest::Client::new();
    let write = api_token(&server, Scope::Write).await;
    // An empty body gets past auth and fails decoding: 400, not 401/403.
    assert_eq!(status(c.post(&url).bearer_auth(&write)).await, 400);
    // Demote the owner to viewer (as the Users page does, through the
    // operation): the same token may now only read, at once, although
    // its record was just looked up and remembered.
    let api = server.store.user_by_name("api").await.unwrap().unwrap();
    // Another admin, so "api" is not the last one and may be demoted.
    server
        .store
        .create_user("root", "!unusable", Role::Admin, false, now_ms())
        .await
        .unwrap();
    let admin = dozor_server::ops::Actor::cli();
    let change = |ch| dozor_server::ops::users::change(&server.ops, &admin, api.id, ch);
    change(Change::Role(Role::Viewer)).await.unwrap();
    assert_eq!(status(c.post(&url).bearer_auth(&write)).await, 403);
    let q = format!("{}{QUERY}", server.url());
    assert_eq!(status(c.get(&q).bearer_auth(&write)).await, 200);
    // Disabled owner: refused at once.
    change(Change::Disable).await.unwrap();
    assert_eq!(status(c.get(&q).bearer_auth(&write)).await, 401);
    change(Change::Enable).await.unwrap();
    // Expiry, on the injected clock.
    let short = dozor_server::app::mint_api_token(
        &server.store,
        "api",
        "short",
        Scope::Read,
        Some(std::time::Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    assert_eq!(status(c.get(&q).bearer_auth(&short)).await, 200);
    clock.advance(3_601_000);
    assert_eq!(status(c.get(&q).bearer_auth(&short)).await, 401);
    assert_eq!(status(c.get(&q).bearer_auth(&write)).await, 200);
    // A viewer cannot mint above read.
    let err = dozor_server::app::mint_api_token(&server.store, "api", "x", Scope::Write, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot hold write"), "{err}");
    server.shutdown().await;
}

/// The Account page: create (shown once), use, list with last use, revoke.
#[tokio::test]
async fn account_page_creates_lists_and_revokes_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let base = server.url();
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    server
        .store
        .create_user("vera", &hash, Role::Viewer, false, now_ms())
        .await
        .unwrap();
    let r = login(&base, "vera", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let session = pair(&set_cookie(&r, "dozor_session").unwrap());
    let page = get(&base, "/account", &session).await;
    let csrf = pair(&set_cookie(&page, "dozor_csrf").unwrap());
    let token = csrf.split_once('=').unwrap().1.to_string();
    let cookie = format!("{session}; {csrf}");
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let (base, cookie) = (base.clone(), cookie.clone());
        async move {
            let r = client()
                .post(format!("{base}{path}"))
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let form = |scope: &str, name: &str| {
        vec![
            ("csrf", token.clone()),
            ("name", name.to_string()),
            ("scope", scope.to_string()),
            ("expires_days", "30".to_string()),
        ]
    };
    let (s, body) = post("/account/tokens", form("admin", "too much")).await;
    assert_eq!(s, 200);
    assert!(
        body.contains("A viewer cannot hold admin tokens."),
        "{body}"
    );
    // No CSRF token: refused.
    let mut no_csrf = form("read", "x");
    no_csrf.remove(0);
    assert_eq!(post("/account/tokens", no_csrf).await.0, 403);
    let (_, body) = post("/account/tokens", form("read", "<b>grafana</b>")).await;
    let start = body.find("dzt_").expect("the new token is shown");
    let secret = body[start..start + 68].to_string();
    assert!(body.contains("&lt;b&gt;grafana&lt;/b&gt;"), "name escaped");
    let c = reqwest::Client::new();
    let q = format!("{base}{QUERY}");
    assert_eq!(status(c.get(&q).bearer_auth(&secret)).await, 200);
    // Reloaded, the page lists it with its last use and never the secret.
    let again = get(&base, "/account", &cookie).await.text().await.unwrap();
    assert!(!again.contains(&secret), "shown once only");
    assert!(again.contains("&lt;b&gt;grafana&lt;/b&gt;"));
    let listed = server.store.list_api_tokens(None).await.unwrap();
    let id = listed[0].id;
    let last_used = listed[0].last_used_ms.expect("use recorded");
    let stamp = dozor_ui::chart::ticks::datetime(last_used);
    assert!(again.contains(&stamp), "last use shown: {stamp}");
    let revoke: &'static str = Box::leak(format!("/account/tokens/{id}/revoke").into_boxed_str());
    let (s, body) = post(revoke, vec![("csrf", token.clone())]).await;
    assert_eq!(s, 200);
    assert!(body.contains("Token revoked."), "{body}");
    assert_eq!(status(c.get(&q).bearer_auth(&secret)).await, 401);
    let log = server.store.audit_log(20).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"token.create") && actions.contains(&"token.revoke"),
        "{actions:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| c.metrics_public = false).await;
    let url = format!("{}/metrics", server.url());
    let c = reqwest::Client::new();
    assert_eq!(status(c.get(&url)).await, 401);
    let token = api_token(&server, Scope::Read).await;
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("dozor_build_info"));
    server.shutdown().await;
}

fn series(n: usize, tag: &str) -> serde_json::Value {
    let ts = now_ms();
    let s: Vec<_> = (0..n)
        .map(|i| serde_json::json!({"name": "card_test", "labels": {"i": format!("{tag}{i}")}, "samples": [[ts, 1.0]]}))
        .collect();
    serde_json::json!({ "series": s })
}

#[tokio::test]
async fn series_cardinality_is_limited_per_agent() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server_with(&dir, None, |c| c.limits.max_series_per_agent = 5).await;
    let base = server.url();
    let a = enroll(&base, &enroll_token(&server), "card-a").await;
    let b = enroll(&base, &enroll_token(&server), "card-b").await;
    let send = |key: String, v: serde_json::Value| {
        let base = base.clone();
        async move { post_heartbeat(&base, Some(&key), serde_json::to_vec(&v).unwrap(), None).await }
    };
    assert_eq!(send(a.clone(), series(5, "x")).await.status, 200);
    assert_eq!(
        send(a.clone(), series(5, "x")).await.status,
        200,
        "known series are free"
    );
    let r = send(a.clone(), series(1, "y")).await;
    assert_eq!(r.status, 422);
    let msg = r.json["error"].as_str().unwrap();
    assert!(
        msg.contains("5 active series") && msg.contains("limit is 5"),
        "{msg}"
    );
    // Another agent has its own budget.
    assert_eq!(send(b, series(5, "y")).await.status, 200);
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("dozor_ingest_errors_total{reason=\"series_limit\"} 1")),
        "the rejection is counted"
    );
    server.shutdown().await;
}

/// Token lookups are remembered for a moment (`ops::tokens::cache`):
/// a change made outside this process's operations (another server on
/// the same database, SQL by hand) is seen within that moment, and a
/// revocation through the operations at once.
#[tokio::test]
async fn token_changes_made_elsewhere_are_seen_within_the_cache_ttl() {
    use dozor_server::ops::tokens::cache::TTL;
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_server(&dir, None).await;
    let q = format!("{}{QUERY}", server.url());
    let c = reqwest::Client::new();
    let token = api_token(&server, Scope::Read).await;
    // The record is remembered at some moment between these two.
    let looked_up = std::time::Instant::now();
    assert_eq!(status(c.get(&q).bearer_auth(&token)).await, 200);
    let answered = std::time::Instant::now();
    let id = server.store.list_api_tokens(None).await.unwrap()[0].id;
    // Revoked straight in the store, as another process would.
    assert!(server
        .store
        .revoke_api_token(id, None, now_ms())
        .await
        .unwrap());
    let answer = status(c.get(&q).bearer_auth(&token)).await;
    if looked_up.elapsed() < TTL {
        assert_eq!(answer, 200, "the remembered record answered");
    }
    tokio::time::sleep(TTL.saturating_sub(answered.elapsed())).await;
    assert_eq!(status(c.get(&q).bearer_auth(&token)).await, 401);

    // Through the operation (the Account page, the API), at once.
    let other = dozor_server::app::mint_api_token(&server.store, "api", "other", Scope::Read, None)
        .await
        .unwrap();
    assert_eq!(status(c.get(&q).bearer_auth(&other)).await, 200);
    let other_id = server
        .store
        .list_api_tokens(None)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "other")
        .unwrap()
        .id;
    let admin = dozor_server::ops::Actor::cli();
    dozor_server::ops::tokens::revoke(&server.ops, &admin, other_id)
        .await
        .unwrap();
    assert_eq!(status(c.get(&q).bearer_auth(&other)).await, 401);
    server.shutdown().await;
}
