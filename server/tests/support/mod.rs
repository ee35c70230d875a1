//! Shared test helpers: real SQLite files, real PostgreSQL databases (one
//! fresh database per test), and a real server on port 0.
//!
//! PostgreSQL comes from DOZOR_TEST_DATABASE_URL (an admin URL; the test
//! script starts a throwaway cluster and sets it). Locally a test without
//! it is skipped with a message; with CI=true it fails.
#![allow(dead_code)]

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
    let Ok(admin_url) = std::env::var("DOZOR_TEST_DATABASE_URL") else {
        missing("PostgreSQL (DOZOR_TEST_DATABASE_URL)");
        return None;
    };
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            missing(&format!("PostgreSQL at DOZOR_TEST_DATABASE_URL ({e})"));
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

pub fn open_options() -> OpenOptions {
    OpenOptions {
        acquire_timeout: Duration::from_secs(2),
        ..OpenOptions::default()
    }
}

pub async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    storage::open(
        &dir.path().join("t.db").display().to_string(),
        &open_options(),
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
    let mut cfg = Config::for_data_dir(dir.path().join("data"));
    cfg.local_collector = false;
    cfg.database_url = database_url.map(str::to_string);
    cfg.acquire_timeout = Duration::from_secs(2);
    Server::start(cfg).await.expect("server starts")
}

pub fn enroll_token(server: &Server) -> String {
    std::fs::read_to_string(&server.enroll_token_path)
        .expect("token file")
        .trim()
        .to_string()
}

pub fn now_ms() -> i64 {
    dozor_server::http::now_ms()
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
