//! The embedded default: one SQLite file in WAL mode. A single writer
//! connection serialises writes (SQLite allows one writer anyway, and this
//! avoids SQLITE_BUSY); a small pool serves reads concurrently.

mod chunks;
mod compact;
mod flush;
mod head;
mod maintenance;
mod retention;
mod rollups;
mod write;

use super::rollup::{self, Resolution};
use super::{
    OpenOptions, Result, RollupPoint, SampleReader, SeriesCache, SeriesInfo, Storage, StorageError,
};
use async_trait::async_trait;
use dozor_common::{Labels, Sample};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use tracing::instrument;

/// Rows per multi-row INSERT: 3 parameters each, well under SQLite's
/// 32766-variable limit.
const ROWS_PER_INSERT: usize = 1000;

pub struct SqliteStore {
    path: PathBuf,
    writer: SqlitePool,
    reader: SqlitePool,
    /// The same pools, for the SQL both backends share.
    db: super::sql::Db,
    cache: SeriesCache,
    /// Logged samples not yet in `samples` (`head.rs`).
    head: std::sync::Arc<head::Head>,
    /// One flush at a time (`flush.rs`).
    filing: std::sync::Arc<flush::Filing>,
    /// Moves the log into `samples` in the background (`flush.rs`).
    flusher: tokio::task::JoinHandle<()>,
    /// Set by the serving process (`Maintenance::set_retention`).
    retention_ms: std::sync::atomic::AtomicI64,
}

impl SqliteStore {
    pub async fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::Open(format!("cannot create {}: {e}", dir.display())))?;
        }
        let connect = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StorageError::Open(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // A multi-row insert keeps a statement journal (to undo just that
            // statement): in memory, not a temporary file written page by page.
            .pragma("temp_store", "memory");
        let open_err = |e: sqlx::Error| {
            StorageError::Open(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        };
        // A remote-write request lands one sample on each series' newest
        // leaf page: thousands of pages per transaction. SQLite's default
        // page cache (2 MiB) spilled them to the WAL mid-transaction and
        // read them back from the file; the writer keeps up to 64 MiB.
        // The checkpoint stays SQLite's (every 1,000 pages, in the commit
        // that crosses it): at 16,384 pages it made writes faster, but one
        // checkpoint's fsync then held the writer for 2.2 s during
        // compaction (ARCHITECTURE.md, "Storage layouts").
        let writer_connect = connect.clone().pragma("cache_size", "-65536");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(writer_connect)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("../migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StorageError::Migrate(e.to_string()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.clamp(1, 8))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(connect.read_only(true))
            .await
            .map_err(open_err)?;
        let head = std::sync::Arc::new(head::Head::default());
        flush::replay(&writer, &head).await?;
        let filing = std::sync::Arc::new(flush::Filing::default());
        let flusher = tokio::spawn(flush::run(writer.clone(), head.clone(), filing.clone()));
        Ok(Self {
            path: path.to_path_buf(),
            db: super::sql::Db::Sqlite {
                writer: writer.clone(),
                reader: reader.clone(),
            },
            writer,
            reader,
            cache: SeriesCache::default(),
            head,
            filing,
            flusher,
            retention_ms: super::DEFAULT_RETENTION_MS.into(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The log keeps whatever the flusher had not moved yet.
        self.flusher.abort();
    }
}

pub(super) fn labels_json(labels: &Labels) -> String {
    serde_json::to_string(labels).expect("labels serialise")
}

pub(super) fn parse_labels(text: &str) -> Result<Labels> {
    serde_json::from_str(text).map_err(|e| StorageError::Other(format!("bad labels JSON: {e}")))
}

fn series_info(r: &sqlx::sqlite::SqliteRow) -> Result<SeriesInfo> {
    Ok(SeriesInfo {
        id: r.get(0),
        metric: r.get(1),
        labels: parse_labels(r.get(2))?,
    })
}

/// Prometheus's staleness marker, a NaN with a specific bit pattern.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// How a value is stored: SQLite turns NaN into NULL, so the staleness
/// marker is stored as NULL and any other NaN as the text 'NaN'.
enum Stored {
    Real(f64),
    Text(&'static str),
    Null,
}

fn value_in(v: f64) -> Stored {
    if v.to_bits() == STALE_NAN {
        Stored::Null
    } else if v.is_nan() {
        Stored::Text("NaN")
    } else {
        Stored::Real(v)
    }
}

/// Selects a stored value as (real or NULL, kind) for [`value_out`]; kind
/// is 1 for NULL (stale) and 2 for text (NaN), an integer so reading a row
/// allocates nothing.
const VALUE_COLS: &str = "CASE WHEN typeof(value) IN ('real', 'integer') THEN value END, \
     CASE typeof(value) WHEN 'null' THEN 1 WHEN 'text' THEN 2 ELSE 0 END";

fn value_out(v: Option<f64>, kind: i64) -> f64 {
    match (v, kind) {
        (Some(v), _) => v,
        (None, 1) => f64::from_bits(STALE_NAN),
        _ => f64::NAN,
    }
}

type RollupRow = (
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    i64,
    i64,
    Option<f64>,
);

/// NULL is NaN: min/max/sum of a bucket of NaN samples only, and a NaN
/// last value.
fn rollup_point((_, b, mn, mx, s, c, n, l): RollupRow) -> RollupPoint {
    RollupPoint {
        bucket_ms: b,
        min: rollup_value(mn),
        max: rollup_value(mx),
        sum: rollup_value(s),
        count: c,
        nan: n,
        last: rollup_value(l),
    }
}

fn rollup_value(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// The row-stored samples of `ids` with `start <= ts <= end`, by series,
/// oldest first.
pub(super) async fn rows_in(
    conn: &mut sqlx::SqliteConnection,
    ids: &[i64],
    start_ms: i64,
    end_ms: i64,
) -> Result<HashMap<i64, Vec<Sample>>> {
    let mut out: HashMap<i64, Vec<Sample>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT series_id, ts, {VALUE_COLS} FROM samples \
             WHERE series_id IN ({marks}) AND ts >= ? AND ts <= ? ORDER BY series_id, ts"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, Option<f64>, i64)>(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        let rows = q.bind(start_ms).bind(end_ms).fetch_all(&mut *conn).await?;
        for (id, t, v, kind) in rows {
            out.entry(id)
                .or_default()
                .push(Sample::new(t, value_out(v, kind)));
        }
    }
    Ok(out)
}

#[async_trait]
impl SampleReader for SqliteStore {
    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn find_series(
        &self,
        metric: Option<&str>,
        equal: &Labels,
        limit: usize,
    ) -> Result<Vec<SeriesInfo>> {
        let mut sql = String::from("SELECT id, metric, labels FROM series WHERE 1=1");
        if metric.is_some() {
            sql.push_str(" AND metric = ?");
        }
        // A classic name makes a JSON path; any other (UTF-8 names such as
        // `service.name`, or one with a quote) is compared as a key, which
        // no name can break out of.
        for k in equal.keys() {
            if dozor_common::model::is_label_name(k) {
                sql.push_str(" AND json_extract(labels, ?) = ?");
            } else {
                sql.push_str(
                    " AND EXISTS (SELECT 1 FROM json_each(series.labels) WHERE key = ? AND value = ?)",
                );
            }
        }
        sql.push_str(" ORDER BY metric, labels LIMIT ?");
        let mut q = sqlx::query(&sql);
        if let Some(m) = metric {
            q = q.bind(m);
        }
        for (k, v) in equal {
            q = if dozor_common::model::is_label_name(k) {
                q.bind(format!("$.\"{k}\""))
            } else {
                q.bind(k.clone())
            }
            .bind(v);
        }
        let rows = q.bind(limit as i64).fetch_all(&self.reader).await?;
        rows.iter().map(series_info).collect()
    }

    async fn series_by_id(&self, id: i64) -> Result<Option<SeriesInfo>> {
        let row = sqlx::query("SELECT id, metric, labels FROM series WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(series_info).transpose()
    }

    #[instrument(skip_all, fields(backend = "sqlite", series = ids.len()))]
    async fn samples_many(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<HashMap<i64, Vec<Sample>>> {
        // The head first: a flush commits before its samples leave the
        // head, and SQLite's snapshot begins at the first read below, so a
        // sample is in one or the other (or both, and merged once).
        let held = self.head.read(ids, start_ms, end_ms);
        // One snapshot for rows and chunks: a compaction committing between
        // the two reads must neither hide samples nor show them twice.
        let mut tx = self.reader.begin().await?;
        let mut out = rows_in(&mut tx, ids, start_ms, end_ms).await?;
        let chunked = chunks::read(&mut tx, ids, start_ms, end_ms).await?;
        super::compaction::merge_into(&mut out, chunked);
        super::compaction::merge_into(&mut out, held);
        Ok(out)
    }

    #[instrument(skip_all, fields(backend = "sqlite", series = ids.len()))]
    async fn rollups_many(
        &self,
        ids: &[i64],
        res: Resolution,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<HashMap<i64, Vec<RollupPoint>>> {
        let sql = format!(
            "SELECT series_id, bucket, min, max, sum, count, nan, last FROM {} \
             WHERE series_id = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket",
            res.table()
        );
        let mut out = HashMap::new();
        let mut conn = self.reader.acquire().await?;
        // One indexed range read per series: SQLite has no arrays to bind.
        for id in ids {
            let rows: Vec<RollupRow> = sqlx::query_as(&sql)
                .bind(id)
                .bind(start_ms)
                .bind(end_ms)
                .fetch_all(&mut *conn)
                .await?;
            if !rows.is_empty() {
                out.insert(*id, rows.into_iter().map(rollup_point).collect());
            }
        }
        Ok(out)
    }

    async fn series_with_samples(
        &self,
        ids: &[i64],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<std::collections::HashSet<i64>> {
        let held = self.head.with_samples(ids, start_ms, end_ms);
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let mut tx = self.reader.begin().await?;
        let found: Vec<i64> = sqlx::query_scalar(
            "SELECT j.value FROM json_each(?) j WHERE EXISTS
               (SELECT 1 FROM samples v WHERE v.series_id = j.value AND v.ts >= ? AND v.ts <= ?)",
        )
        .bind(format!("[{}]", list.join(",")))
        .bind(start_ms)
        .bind(end_ms)
        .fetch_all(&mut *tx)
        .await?;
        let mut found: std::collections::HashSet<i64> = found.into_iter().chain(held).collect();
        let rest: Vec<i64> = ids.iter().copied().filter(|i| !found.contains(i)).collect();
        found.extend(chunks::with_samples(&mut tx, &rest, start_ms, end_ms).await?);
        Ok(found)
    }

    async fn rollup_coverage(&self) -> Result<rollup::Coverage> {
        let watermark: Option<i64> =
            sqlx::query_scalar("SELECT watermark_ms FROM rollup_state WHERE name = '5m'")
                .fetch_optional(&self.reader)
                .await?;
        let dirty = sqlx::query_scalar("SELECT bucket_ms FROM rollup_dirty ORDER BY bucket_ms")
            .fetch_all(&self.reader)
            .await?;
        Ok(rollup::Coverage {
            watermark_ms: watermark.unwrap_or(i64::MIN),
            dirty,
        })
    }

    async fn series_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM series")
            .fetch_one(&self.reader)
            .await?)
    }
}

impl super::sql::HasDb for SqliteStore {
    fn db(&self) -> &super::sql::Db {
        &self.db
    }
}

impl Storage for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }

    fn cache(&self) -> &SeriesCache {
        &self.cache
    }
}
