//! Shared test helpers: real SQLite files, real PostgreSQL databases (one
//! fresh database per test), and a real server on port 0.
//!
//! PostgreSQL comes from DOZOR_TEST_DATABASE_URL, and PostgreSQL with
//! TimescaleDB preloaded from DOZOR_TEST_TIMESCALE_URL (admin URLs; the
//! test script starts throwaway clusters and sets them). Locally a test
//! without one is skipped with a message; with CI=true it fails.
#![allow(dead_code, unused_macros)]

pub mod agents;
pub mod autoscale;
pub mod certs;
pub mod chrome;
pub mod container_pages;
pub mod data;
pub mod docker;
pub mod nginx;
pub mod pebble;
pub mod scrape_targets;
pub mod telegram;
pub mod web;
pub mod wrk;

use dozor_server::storage::{self, OpenOptions, Store};
use dozor_server::{Config, Server};
use sqlx::Connection;
use std::time::Duration;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (locally) or fails (CI) when a required service is missing.
pub fn missing(what: &str) {
    if in_ci() {
        panic!("{what} is required when CI=true");
    }
    eprintln!("skipping: {what} is not available (scripts/test.sh provides it)");
}

pub struct TestDb {
    pub url: String,
    pub admin_url: String,
    pub name: String,
}

/// A fresh, empty database, or None (skip) when PostgreSQL is not
/// configured outside CI.
pub async fn pg_database() -> Option<TestDb> {
    fresh_database("DOZOR_TEST_DATABASE_URL", "PostgreSQL").await
}

/// A fresh database in a cluster that preloads TimescaleDB, so dozor
/// chooses its TimescaleDB layout; None (skip) outside CI without one.
pub async fn timescale_database() -> Option<TestDb> {
    fresh_database("DOZOR_TEST_TIMESCALE_URL", "PostgreSQL with TimescaleDB").await
}

async fn fresh_database(var: &str, what: &str) -> Option<TestDb> {
    let Ok(admin_url) = std::env::var(var) else {
        missing(&format!("{what} ({var})"));
        return None;
    };
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            missing(&format!("{what} at {var} ({e})"));
            return None;
        }
    };
    let name = format!("dozor_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin_url.rsplit_once('/').expect("URL has a path").0;
    Some(TestDb {
        url: format!("{base}/{name}"),
        admin_url,
        name,
    })
}

impl TestDb {
    pub async fn admin(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("admin connection")
    }

    /// Makes the database unreachable: refuses new connections and kills
    /// the existing ones, as a crashed or restarting server would.
    pub async fn take_down(&self) {
        let mut c = self.admin().await;
        sqlx::query(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            self.name
        ))
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&self.name)
            .execute(&mut c)
            .await
            .unwrap();
    }

    pub async fn bring_up(&self) {
        let mut c = self.admin().await;
        sqlx::query(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ))
        .execute(&mut c)
        .await
        .unwrap();
    }
}

/// PostgreSQL tests take the database down on purpose, so they want an
/// outage noticed within 2 s.
pub fn open_options() -> OpenOptions {
    OpenOptions {
        acquire_timeout: Duration::from_secs(2),
        ..OpenOptions::default()
    }
}

/// A SQLite file never goes away under a test, but opening it can wait on a
/// machine busy linking other test binaries; 2 s was seen to run out there.
const SQLITE_ACQUIRE: Duration = Duration::from_secs(20);

pub async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    storage::open(
        &dir.path().join("t.db").display().to_string(),
        &OpenOptions {
            acquire_timeout: SQLITE_ACQUIRE,
            ..OpenOptions::default()
        },
    )
    .await
    .expect("open sqlite")
}

pub async fn pg_store(db: &TestDb) -> Store {
    storage::open(&db.url, &open_options())
        .await
        .expect("open postgres")
}

/// A server on 127.0.0.1:0 without the local collector.
pub async fn spawn_server(dir: &tempfile::TempDir, database_url: Option<&str>) -> Server {
    spawn_server_with(dir, database_url, |_| {}).await
}

pub async fn spawn_server_with(
    dir: &tempfile::TempDir,
    database_url: Option<&str>,
    tweak: impl FnOnce(&mut Config),
) -> Server {
    let mut cfg = Config::for_data_dir(dir.path().join("data"));
    cfg.local_collector = false;
    cfg.database_url = database_url.map(str::to_string);
    cfg.acquire_timeout = match database_url {
        Some(_) => open_options().acquire_timeout,
        None => SQLITE_ACQUIRE,
    };
    tweak(&mut cfg);
    Server::start(cfg).await.expect("server starts")
}

/// The collector's fixture host root (checked-in copies of real /proc files).
pub fn fixture_root() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../collector/tests/fixtures/host"
    ))
}

pub struct Reply {
    pub status: u16,
    pub json: serde_json::Value,
    pub retry_after: Option<String>,
}

/// Posts a raw heartbeat body; `key` None sends no Authorization header.
pub async fn post_heartbeat(
    base: &str,
    key: Option<&str>,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/api/v1/agents/heartbeat"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Reply {
        status,
        json,
        retry_after,
    }
}

pub fn zstd_json(v: &serde_json::Value) -> Vec<u8> {
    zstd::bulk::compress(&serde_json::to_vec(v).unwrap(), 3).unwrap()
}

/// Enrols an agent over HTTP and returns its key.
pub async fn enroll(base: &str, token: &str, name: &str) -> String {
    let client = dozor_collector::http::ServerClient::new(base).unwrap();
    let inv = dozor_common::protocol::HostInventory {
        hostname: name.into(),
        ..Default::default()
    };
    client
        .enroll(token, name, inv)
        .await
        .expect("enrolment")
        .agent_key
}

pub fn enroll_token(server: &Server) -> String {
    std::fs::read_to_string(&server.enroll_token_path)
        .expect("token file")
        .trim()
        .to_string()
}

pub fn now_ms() -> i64 {
    dozor_server::clock::system_ms()
}

/// Polls `f` until it returns Some, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs each named `async fn(Store)` against a fresh SQLite file, a fresh
/// plain PostgreSQL database and a fresh database with TimescaleDB, as
/// `sqlite::NAME`, `postgres::NAME` and `timescale::NAME`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$name(super::support::sqlite_store(&dir).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::support::pg_database().await else { return };
                    super::$name(super::support::pg_store(&db).await).await;
                }
            )*
        }
        mod timescale {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::support::timescale_database().await else { return };
                    super::$name(super::support::pg_store(&db).await).await;
                }
            )*
        }
    };
}

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Signs in through the real form as `admin` (created in storage first;
/// the setup flow has its own test). Returns the `Cookie` header value
/// carrying the CSRF and session cookies.
pub async fn web_session(server: &Server) -> String {
    let hash = dozor_server::auth::password::hash(ADMIN_PASSWORD);
    let _ = server
        .store
        .create_user(
            "admin",
            &hash,
            dozor_server::storage::Role::Admin,
            false,
            now_ms(),
        )
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/login", server.url()))
        .send()
        .await
        .unwrap();
    let csrf = page.headers()["set-cookie"].to_str().unwrap();
    let csrf = csrf.split(';').next().unwrap().to_string();
    let token = csrf.split_once('=').unwrap().1.to_string();
    let resp = http
        .post(format!("{}/login", server.url()))
        .header("cookie", &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in through the form");
    let session = resp.headers()["set-cookie"].to_str().unwrap();
    format!("{csrf}; {}", session.split(';').next().unwrap())
}

/// A fresh API token of `scope`, owned by an admin named `api` created
/// directly in storage (with an unusable password hash).
pub async fn api_token(server: &Server, scope: dozor_server::storage::Scope) -> String {
    let store = &server.store;
    if store.user_by_name("api").await.unwrap().is_none() {
        store
            .create_user(
                "api",
                "!unusable",
                dozor_server::storage::Role::Admin,
                false,
                now_ms(),
            )
            .await
            .unwrap();
    }
    dozor_server::app::mint_api_token(store, "api", "tests", scope, None)
        .await
        .unwrap()
}

/// A client that sends a read-scoped API token on every request.
pub async fn api_client(server: &Server) -> reqwest::Client {
    api_client_with(server, dozor_server::storage::Scope::Read).await
}

/// A client that sends an API token of `scope` on every request.
pub async fn api_client_with(
    server: &Server,
    scope: dozor_server::storage::Scope,
) -> reqwest::Client {
    let token = api_token(server, scope).await;
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}
