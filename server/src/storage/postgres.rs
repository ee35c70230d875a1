//! PostgreSQL, with TimescaleDB when the extension can be created (see
//! migrations/postgres/0002_samples.sql for both layouts). Samples are
//! written with one `INSERT … SELECT FROM UNNEST(arrays)` per batch.

mod chunks;
mod compact;
mod maintenance;
mod migrations;
mod read;
mod rollup_chunks;
mod write;

use super::sqlite::{labels_json, parse_labels};
use super::{OpenOptions, Result, SeriesCache, Storage, StorageError};
use dozor_common::model::{fingerprint, series_key};
use dozor_common::SeriesBatch;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use tokio::sync::Mutex;

const DAY_MS: i64 = 86_400_000;

/// Years 1 to 9999: what a timestamptz can surely hold. Read ranges are
/// clamped so an API caller asking for "everything" gets it, not an error.
fn clamp_ts(ms: i64) -> i64 {
    ms.clamp(-62_135_596_800_000, 253_402_300_799_999)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Timescale,
    Partitioned,
}

pub struct PgStore {
    pool: PgPool,
    /// The same pool, for the SQL both backends share.
    db: super::sql::Db,
    target: String,
    layout: Layout,
    cache: SeriesCache,
    /// Days (ms / DAY_MS) whose partition is known to exist.
    partitions: Mutex<HashSet<i64>>,
    /// Set by the serving process (`Maintenance::set_retention`).
    retention_ms: std::sync::atomic::AtomicI64,
}

impl PgStore {
    pub async fn connect(url: &str, opts: &OpenOptions) -> Result<Self> {
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| StorageError::Open(format!("invalid PostgreSQL URL: {e}")))?;
        if let Some(pw) = &opts.password {
            connect = connect.password(pw);
        }
        let target = format!(
            "{}:{}/{}",
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or("(default)")
        );
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            // sqlx pings a connection when it goes back to the pool (and
            // closes it if that fails); pinging again on every acquire cost
            // each query a round trip. One idle for a while (the server may
            // have restarted meanwhile) is still pinged first.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > std::time::Duration::from_secs(10) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .map_err(|e| {
                StorageError::Open(format!(
                    "cannot reach PostgreSQL at {target}: {e}; check DOZOR_DATABASE_URL, or omit it to use the embedded SQLite store"
                ))
            })?;
        migrations::run(&pool).await?;
        let layout: String =
            sqlx::query_scalar("SELECT value FROM storage_meta WHERE key = 'layout'")
                .fetch_one(&pool)
                .await?;
        let layout = if layout == "timescaledb" {
            Layout::Timescale
        } else {
            Layout::Partitioned
        };
        let store = Self {
            db: super::sql::Db::Postgres(pool.clone()),
            pool,
            target,
            layout,
            cache: SeriesCache::default(),
            partitions: Mutex::new(HashSet::new()),
            retention_ms: super::DEFAULT_RETENTION_MS.into(),
        };
        if layout == Layout::Partitioned {
            // The layout is chosen once, by the first migration; installing
            // TimescaleDB later does not convert an existing database.
            tracing::info!(
                "TimescaleDB is not in use for this database: plain PostgreSQL with daily partitions and rollups maintained by dozor"
            );
        }
        Ok(store)
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Policies are replaced at every start of the server so `--retention`
    /// takes effect (never by admin commands, which open the store too).
    /// Makes each table's retention policy say `retention_ms`, in one
    /// transaction under an advisory lock, so servers starting together on
    /// one database take turns; a policy that already says it is left as
    /// it is (its job id and history kept).
    async fn set_timescale_retention(&self, retention_ms: i64) -> Result<()> {
        const RETENTION_LOCK: i64 = 0x646f_7a6f_725f_7274; // "dozor_rt"
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(RETENTION_LOCK)
            .execute(&mut *tx)
            .await?;
        for table in ["samples", "samples_5m", "samples_1h"] {
            // Versions differ on whether a continuous aggregate's jobs name
            // the view or its materialization table: either counts.
            let right: bool = sqlx::query_scalar(
                "SELECT count(*) = 1 AND coalesce(bool_and((j.config->>'drop_after')::interval
                        = make_interval(secs => $2::float8 / 1000)), false)
                 FROM timescaledb_information.jobs j
                 WHERE j.proc_name = 'policy_retention'
                   AND (j.hypertable_name = $1 OR j.hypertable_name = (
                       SELECT materialization_hypertable_name
                       FROM timescaledb_information.continuous_aggregates
                       WHERE view_name = $1))",
            )
            .bind(table)
            .bind(retention_ms)
            .fetch_one(&mut *tx)
            .await?;
            if right {
                continue;
            }
            sqlx::query("SELECT remove_retention_policy($1::regclass, if_exists => true)")
                .bind(table)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "SELECT add_retention_policy($1::regclass, drop_after => make_interval(secs => $2::float8 / 1000))",
            )
            .bind(table)
            .bind(retention_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes sure every day in `days` has a partition (partitioned layout).
    async fn ensure_partitions(&self, days: impl IntoIterator<Item = i64>) -> Result<()> {
        if self.layout != Layout::Partitioned {
            return Ok(());
        }
        let mut known = self.partitions.lock().await;
        for day in days {
            if known.contains(&day) {
                continue;
            }
            sqlx::query("SELECT dozor_ensure_partition((dozor_ts($1) AT TIME ZONE 'UTC')::date)")
                .bind(day * DAY_MS)
                .execute(&self.pool)
                .await?;
            known.insert(day);
        }
        Ok(())
    }

    /// Resolves series ids for cache misses: one SELECT for all, one
    /// INSERT for the new ones, and a re-read for any lost race.
    async fn resolve(
        &self,
        misses: &[(&SeriesBatch, String)],
        now_ms: i64,
    ) -> Result<(HashMap<String, i64>, u64)> {
        let fps: Vec<i64> = misses.iter().map(|(_, k)| fingerprint(k)).collect();
        let mut ids = HashMap::new();
        self.read_ids(&fps, misses, &mut ids).await?;
        let missing: Vec<&(&SeriesBatch, String)> = misses
            .iter()
            .filter(|(_, k)| !ids.contains_key(k))
            .collect();
        if missing.is_empty() {
            return Ok((ids, 0));
        }
        let new_fps: Vec<i64> = missing.iter().map(|(_, k)| fingerprint(k)).collect();
        let metrics: Vec<&str> = missing.iter().map(|(s, _)| s.name.as_str()).collect();
        let labels: Vec<String> = missing
            .iter()
            .map(|(s, _)| labels_json(&s.labels))
            .collect();
        let created = sqlx::query(
            "INSERT INTO series (fingerprint, metric, labels, created_ms)
             SELECT f, m, l::jsonb, $4 FROM UNNEST($1::int8[], $2::text[], $3::text[]) AS u(f, m, l)
             ON CONFLICT (fingerprint) DO NOTHING",
        )
        .bind(&new_fps)
        .bind(&metrics)
        .bind(&labels)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.read_ids(&new_fps, misses, &mut ids).await?;
        if let Some((_, k)) = misses.iter().find(|(_, k)| !ids.contains_key(k)) {
            return Err(StorageError::Other(format!(
                "series {k} vanished while being created"
            )));
        }
        Ok((ids, created))
    }

    async fn read_ids(
        &self,
        fps: &[i64],
        misses: &[(&SeriesBatch, String)],
        ids: &mut HashMap<String, i64>,
    ) -> Result<()> {
        let want: HashMap<i64, &str> = misses
            .iter()
            .map(|(_, k)| (fingerprint(k), k.as_str()))
            .collect();
        let rows = sqlx::query(
            "SELECT id, fingerprint, metric, labels::text FROM series WHERE fingerprint = ANY($1)",
        )
        .bind(fps)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let fp: i64 = r.get(1);
            let key = series_key(r.get::<&str, _>(2), &parse_labels(r.get(3))?);
            match want.get(&fp) {
                Some(k) if *k == key => {
                    ids.insert(key, r.get(0));
                }
                Some(k) => return Err(StorageError::Collision(key, k.to_string())),
                None => {}
            }
        }
        Ok(())
    }
}

impl super::sql::HasDb for PgStore {
    fn db(&self) -> &super::sql::Db {
        &self.db
    }
}

impl Storage for PgStore {
    fn describe(&self) -> String {
        let layout = match self.layout {
            Layout::Timescale => "timescaledb",
            Layout::Partitioned => "plain PostgreSQL, daily partitions",
        };
        format!("postgresql {} ({layout})", self.target)
    }

    fn cache(&self) -> &SeriesCache {
        &self.cache
    }
}
