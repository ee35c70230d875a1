//! The PostgreSQL schema: sqlx's migrations, with the repairs and retries
//! running them needs.

use super::super::{Result, StorageError};
use sqlx::{Connection, PgPool};

/// Migrations edited after release, with the checksum of the text they
/// replaced: a database that applied the old text has it updated, since
/// the schema they create is the same. 0002 now checks that TimescaleDB is
/// preloaded before creating it (without the preload, CREATE EXTENSION
/// ended the connection and the fallback to plain PostgreSQL never ran).
const EDITED_MIGRATIONS: &[(i64, &str)] = &[(
    2,
    "7e2385f80cfa624409809ff9ad11c74458e4364c39966f6739183414790a43b1f216b3eb756c93bb7eb0c3bfef6eb69c",
)];

async fn repair_edited_migrations(pool: &PgPool, migrator: &sqlx::migrate::Migrator) -> Result<()> {
    let applied: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(pool)
            .await?;
    if applied.is_none() {
        return Ok(());
    }
    for (version, old) in EDITED_MIGRATIONS {
        let Some(m) = migrator.iter().find(|m| m.version == *version) else {
            continue;
        };
        let old = hex::decode(old).expect("literal hex");
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = $3",
        )
        .bind(m.checksum.as_ref())
        .bind(version)
        .bind(&old)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Brings the schema up to date.
pub async fn run(pool: &PgPool) -> Result<()> {
    let mut migrator = sqlx::migrate!("../migrations/postgres");
    repair_edited_migrations(pool, &migrator).await?;
    // Each migration is its own transaction. TimescaleDB's job
    // scheduler, starting in a new database, can deadlock with a
    // migration that adds a policy (seen in CI on 0019), or update a job
    // row a migration is deleting with its view ("tuple concurrently
    // deleted", seen in CI on 0021); PostgreSQL rolls that migration
    // back, so running again resumes at it.
    // One server migrates at a time, under a session lock of our own:
    // sqlx's lock stays held by its connection when a migration fails, so
    // the attempt after a race would wait for ever.
    migrator.set_locking(false);
    // Its own connection, so a pool of one still has one to migrate with.
    let mut lock = sqlx::PgConnection::connect_with(&pool.connect_options()).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await?;
    let mut attempt = 0;
    let outcome = loop {
        let outcome = migrator.run(pool).await;
        match outcome {
            Ok(()) => break Ok(()),
            Err(e) if attempt < 3 && raced_the_scheduler(&e.to_string()) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "a migration raced TimescaleDB's scheduler; running it again");
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => break Err(StorageError::Migrate(e.to_string())),
        }
    };
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await?;
    let _ = lock.close().await;
    outcome
}

/// The advisory lock key migrations run under ("dozormig").
const MIGRATION_LOCK: i64 = 0x646f_7a6f_726d_6967;

fn raced_the_scheduler(error: &str) -> bool {
    [
        "deadlock detected",
        "tuple concurrently deleted",
        "tuple concurrently updated",
    ]
    .iter()
    .any(|m| error.contains(m))
}
