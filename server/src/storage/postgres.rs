//! PostgreSQL, with TimescaleDB when the extension can be created (see
//! migrations/postgres/0002_samples.sql for both layouts). Samples are
//! written with one `INSERT … SELECT FROM UNNEST(arrays)` per batch.

mod chunks;
mod compact;
mod maintenance;
mod migrations;
mod read;
mod rollup_chunks;

use super::sqlite::{labels_json, parse_labels};
use super::{compaction, rollup};
use super::{AppendOutcome, OpenOptions, Result, SampleWriter, SeriesCache, Storage, StorageError};
use async_trait::async_trait;
use dozor_common::model::{fingerprint, series_key};
use dozor_common::SeriesBatch;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use tokio::sync::Mutex;
use tracing::instrument;

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

#[async_trait]
impl SampleWriter for PgStore {
    #[instrument(skip_all, fields(backend = "postgres", series = batch.len()))]
    async fn append(&self, batch: &[SeriesBatch], now_ms: i64) -> Result<AppendOutcome> {
        let mut out = AppendOutcome::default();
        let keyed: Vec<(&SeriesBatch, String)> = batch.iter().map(|s| (s, s.key())).collect();
        let mut ids: Vec<Option<i64>> = keyed
            .iter()
            .map(|(_, k)| self.cache.get(k, now_ms))
            .collect();
        let misses: Vec<(&SeriesBatch, String)> = keyed
            .iter()
            .zip(&ids)
            .filter(|(_, id)| id.is_none())
            .map(|((s, k), _)| (*s, k.clone()))
            .collect();
        if !misses.is_empty() {
            let (found, created) = self.resolve(&misses, now_ms).await?;
            out.new_series = created;
            for ((_, k), id) in keyed.iter().zip(ids.iter_mut()) {
                if id.is_none() {
                    let v = found[k];
                    self.cache.insert(k.clone(), v, now_ms);
                    *id = Some(v);
                }
            }
        }
        let n: usize = batch.iter().map(|s| s.samples.len()).sum();
        let (mut ts, mut sid, mut val) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for ((s, _), id) in keyed.iter().zip(&ids) {
            let id = id.expect("resolved");
            for p in &s.samples {
                ts.push(p.ts_ms);
                sid.push(id);
                val.push(p.value);
            }
        }
        let days: HashSet<i64> = ts.iter().map(|t| t.div_euclid(DAY_MS)).collect();
        self.ensure_partitions(days).await?;
        // Both layouts: TimescaleDB's aggregates are refreshed by the server
        // too (see `maintenance`), and a late sample must send reads of
        // its bucket to the raw samples until they are.
        let late = rollup::late_buckets(ts.iter().copied(), now_ms);
        let closed = self.layout == Layout::Partitioned && chunks::touches_closed(&ts, now_ms);
        if late.is_empty() && !closed {
            out.stored = insert(&ts, &sid, &val)
                .execute(&self.pool)
                .await?
                .rows_affected();
            if out.stored < n as u64 {
                out.conflicts =
                    conflicts(&mut *self.pool.acquire().await?, &ts, &sid, &val).await?;
            }
        } else {
            let mut tx = self.pool.begin().await?;
            if closed {
                out.conflicts = backfill(&mut tx, &mut ts, &mut sid, &mut val).await?;
            }
            out.stored = insert(&ts, &sid, &val)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if out.stored < ts.len() as u64 {
                out.conflicts += conflicts(&mut tx, &ts, &sid, &val).await?;
            }
            // Marks and samples commit together; DO UPDATE (not NOTHING)
            // row-locks the mark so a concurrent rollup pass that claims
            // it waits for this commit (see storage::rollup).
            sqlx::query(
                "INSERT INTO rollup_dirty (bucket_ms) SELECT * FROM UNNEST($1::int8[])
                 ON CONFLICT (bucket_ms) DO UPDATE SET bucket_ms = EXCLUDED.bucket_ms",
            )
            .bind(&late)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        out.duplicate = n as u64 - out.stored - out.conflicts;
        Ok(out)
    }
}

fn insert<'q>(
    ts: &'q [i64],
    sid: &'q [i64],
    val: &'q [f64],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO samples (ts, series_id, value)
         SELECT dozor_ts(t), s, v FROM UNNEST($1::int8[], $2::int8[], $3::float8[]) AS u(t, s, v)
         ON CONFLICT DO NOTHING",
    )
    .bind(ts)
    .bind(sid)
    .bind(val)
}

/// Samples that may fall in compacted windows (backfill, late samples),
/// under the shared compaction lock: those a chunk already holds are
/// dropped, as the unique index drops re-sent rows, and the windows of
/// the others are marked for the next compaction step. Returns how many
/// dropped samples carried a value other than the stored one.
async fn backfill(
    tx: &mut sqlx::PgConnection,
    ts: &mut Vec<i64>,
    sid: &mut Vec<i64>,
    val: &mut Vec<f64>,
) -> Result<u64> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(chunks::COMPACT_LOCK)
        .execute(&mut *tx)
        .await?;
    let watermark = chunks::watermark(&mut *tx).await?;
    let held = chunks::stored_at(&mut *tx, ts, sid, watermark).await?;
    let mut differ = 0;
    if !held.is_empty() {
        let keep: Vec<bool> = (0..ts.len())
            .map(|i| match held.get(&i) {
                None => true,
                Some(v) => {
                    differ += u64::from(!dozor_common::model::same_value(*v, val[i]));
                    false
                }
            })
            .collect();
        let mut k = keep.iter();
        ts.retain(|_| *k.next().unwrap());
        let mut k = keep.iter();
        sid.retain(|_| *k.next().unwrap());
        let mut k = keep.iter();
        val.retain(|_| *k.next().unwrap());
    }
    let mut windows: Vec<i64> = ts
        .iter()
        .filter(|t| **t <= watermark)
        .map(|t| compaction::window_of(*t))
        .collect();
    windows.sort_unstable();
    windows.dedup();
    sqlx::query(
        "INSERT INTO compact_dirty (window_ms, marks) SELECT w, 1 FROM UNNEST($1::int8[]) AS u(w)
         ON CONFLICT (window_ms) DO UPDATE SET marks = compact_dirty.marks + 1",
    )
    .bind(&windows)
    .execute(&mut *tx)
    .await?;
    Ok(differ)
}

/// After an insert that skipped rows: how many rows of the batch differ
/// from what is stored at their (series, ts).
async fn conflicts(
    conn: &mut sqlx::PgConnection,
    ts: &[i64],
    sid: &[i64],
    val: &[f64],
) -> Result<u64> {
    let stored: Vec<(i64, f64)> = sqlx::query_as(
        "SELECT u.i, s.value FROM UNNEST($1::int8[], $2::int8[]) WITH ORDINALITY AS u(t, sid, i)
         JOIN samples s ON s.series_id = u.sid AND s.ts = dozor_ts(u.t)",
    )
    .bind(ts)
    .bind(sid)
    .fetch_all(&mut *conn)
    .await?;
    Ok(stored
        .iter()
        .filter(|(i, v)| {
            let sent = val[(*i - 1) as usize];
            !dozor_common::model::same_value(*v, sent)
        })
        .count() as u64)
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
