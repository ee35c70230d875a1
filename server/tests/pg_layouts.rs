//! PostgreSQL layouts: a cluster that has TimescaleDB installed but not
//! preloaded falls back to plain PostgreSQL (before, CREATE EXTENSION
//! ended the migration's connection with a FATAL error and the server did
//! not start); a cluster that preloads it gets the TimescaleDB layout; and
//! a database migrated by an earlier version, whose migration 0002 had
//! another text, still opens.

use crate::support;

use dozor_server::storage::postgres::{Layout, PgStore};
use sqlx::Connection;
use support::*;

#[tokio::test]
async fn plain_postgresql_with_timescaledb_installed_falls_back() {
    let Some(db) = pg_database().await else {
        return;
    };
    let mut c = db.admin().await;
    let (available, preload): (bool, String) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                current_setting('shared_preload_libraries')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    if in_ci() {
        // scripts/test.sh installs TimescaleDB, so the plain cluster sees
        // it: the case this test is about.
        assert!(available, "TimescaleDB is installed in CI");
    }
    assert!(
        !preload.contains("timescaledb"),
        "the plain cluster does not preload it"
    );
    let store = PgStore::connect(&db.url, &open_options()).await.unwrap();
    assert_eq!(store.layout(), Layout::Partitioned);
}

#[tokio::test]
async fn a_preloading_cluster_gets_the_timescaledb_layout() {
    let Some(db) = timescale_database().await else {
        return;
    };
    let store = PgStore::connect(&db.url, &open_options()).await.unwrap();
    assert_eq!(store.layout(), Layout::Timescale);
}

#[tokio::test]
async fn a_database_migrated_by_an_earlier_version_opens() {
    let Some(db) = pg_database().await else {
        return;
    };
    drop(PgStore::connect(&db.url, &open_options()).await.unwrap());
    // The checksum an earlier version recorded for 0002.
    let old = hex::decode("7e2385f80cfa624409809ff9ad11c74458e4364c39966f6739183414790a43b1f216b3eb756c93bb7eb0c3bfef6eb69c").unwrap();
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2")
        .bind(&old)
        .execute(&mut c)
        .await
        .unwrap();
    let store = PgStore::connect(&db.url, &open_options()).await.unwrap();
    assert_eq!(store.layout(), Layout::Partitioned);
    let now: Vec<u8> =
        sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = 2")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_ne!(now, old, "the checksum was brought up to date");
}
