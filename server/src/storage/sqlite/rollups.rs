//! Rollups for SQLite (see `storage::rollup` for the scheme). A step is
//! planned in one short transaction and done a batch of series per
//! transaction, so SQLite's one writer is never held for a whole bucket:
//! at 100k samples/s a 5-minute bucket is 30 million rows. The claimed
//! dirty buckets and the watermark change only once every batch is in;
//! until then queries read the step's range raw.

use super::{chunks, SqliteStore};
use crate::storage::compaction::{self, WINDOW_MS};
use crate::storage::rollup;
use crate::storage::Result;
use sqlx::SqliteConnection;
use std::time::{Duration, Instant};

/// Series `(after, through]`, by id: one batch.
type Ids = (i64, i64);

/// Series in a step's first batch; each next batch doubles while a batch
/// takes under [`FAST`] and halves over [`SLOW`]. Small, because a step
/// cannot know how dense its series are: at 250k samples/s over 8,000
/// series one series holds 9,400 samples a bucket, and a first batch of
/// 256 series (2.4 million rows, sorted in memory) held the writer for
/// 2.5 s and took 200 MiB.
const FIRST_BATCH: i64 = 16;
const FAST: Duration = Duration::from_millis(50);
const SLOW: Duration = Duration::from_millis(200);
const MAX_BATCH: i64 = 1 << 20;

const FIVE: i64 = 300_000;

// Staleness markers (stored as NULL) are not samples; NaN samples (stored
// as the text 'NaN') are counted in `nan`, apart from the numbers that
// make min/max/sum/count, and a NaN last value is stored as NULL.
// The joins through `series` let SQLite walk the (series_id, ts) primary
// key per series instead of scanning the whole table for a time range.
// Buckets are left-open (see `storage::rollup`): bucket b holds
// b < ts <= b + 5m. `(ts - 1) / w * w` is floor only for ts >= 1, hence the
// modulo form that also floors negative times.
const ROLLUP_5M: &str =
    "INSERT INTO samples_5m (series_id, bucket, min, max, sum, count, nan, last)
    SELECT x.series_id, x.b, min(CASE WHEN x.num THEN x.value END),
           max(CASE WHEN x.num THEN x.value END), sum(CASE WHEN x.num THEN x.value END),
           sum(x.num), sum(NOT x.num),
           (SELECT CASE WHEN typeof(y.value) = 'text' THEN NULL ELSE y.value END
            FROM samples y WHERE y.series_id = x.series_id
              AND y.ts > x.b AND y.ts <= x.b + 300000
              AND typeof(y.value) <> 'null'
            ORDER BY y.ts DESC LIMIT 1)
    FROM (SELECT v.series_id, v.value, typeof(v.value) IN ('real', 'integer') AS num,
                 (v.ts - 1) - (((v.ts - 1) % 300000) + 300000) % 300000 AS b
          FROM series s JOIN samples v ON v.series_id = s.id AND v.ts > ?1 AND v.ts <= ?2
          WHERE s.id > ?3 AND s.id <= ?4 AND typeof(v.value) <> 'null') x
    GROUP BY x.series_id, x.b
    ON CONFLICT (series_id, bucket) DO UPDATE SET min = excluded.min, max = excluded.max,
        sum = excluded.sum, count = excluded.count, nan = excluded.nan, last = excluded.last";

const ROLLUP_1H: &str = "INSERT INTO samples_1h (series_id, bucket, min, max, sum, count, nan, last)
    SELECT x.series_id, (x.bucket / 3600000) * 3600000 AS h,
           min(CASE WHEN x.count > 0 THEN x.min END), max(CASE WHEN x.count > 0 THEN x.max END),
           sum(x.sum), sum(x.count), sum(x.nan),
           (SELECT y.last FROM samples_5m y WHERE y.series_id = x.series_id
              AND y.bucket >= ?1 AND y.bucket < ?1 + 3600000 ORDER BY y.bucket DESC LIMIT 1)
    FROM series s JOIN samples_5m x ON x.series_id = s.id AND x.bucket >= ?1 AND x.bucket < ?1 + 3600000
    WHERE s.id > ?2 AND s.id <= ?3
    GROUP BY x.series_id, h
    ON CONFLICT (series_id, bucket) DO UPDATE SET min = excluded.min, max = excluded.max,
        sum = excluded.sum, count = excluded.count, nan = excluded.nan, last = excluded.last";

async fn rollup_5m(tx: &mut SqliteConnection, from: i64, to: i64, ids: Ids) -> Result<u64> {
    Ok(sqlx::query(ROLLUP_5M)
        .bind(from)
        .bind(to)
        .bind(ids.0)
        .bind(ids.1)
        .execute(&mut *tx)
        .await?
        .rows_affected())
}

/// The 5-minute rollups of `from < ts <= to` from chunks and rows
/// together, for the series of `ids` holding samples there.
async fn rollup_5m_merged(
    tx: &mut SqliteConnection,
    from: i64,
    to: i64,
    (lo, hi): Ids,
) -> Result<u64> {
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT s.id FROM series s WHERE s.id > ?3 AND s.id <= ?4 AND EXISTS
           (SELECT 1 FROM samples v WHERE v.series_id = s.id AND v.ts > ?1 AND v.ts <= ?2)",
    )
    .bind(from)
    .bind(to)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *tx)
    .await?;
    ids.extend(
        sqlx::query_scalar::<_, i64>(
            "SELECT DISTINCT series_id FROM sample_chunks
             WHERE first_ts > ?1 AND first_ts <= ?2 AND last_ts > ?3
               AND series_id > ?4 AND series_id <= ?5",
        )
        .bind(from.saturating_sub(WINDOW_MS))
        .bind(to)
        .bind(from)
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut *tx)
        .await?,
    );
    ids.sort_unstable();
    ids.dedup();
    let mut written = 0;
    for part in ids.chunks(500) {
        let mut rows = super::rows_in(&mut *tx, part, from + 1, to).await?;
        let chunked = chunks::read(&mut *tx, part, from + 1, to).await?;
        compaction::merge_into(&mut rows, chunked);
        for (id, samples) in rows {
            let samples: Vec<(i64, f64)> = samples.iter().map(|s| (s.ts_ms, s.value)).collect();
            for p in compaction::five_minute_rollups(&samples) {
                let num = |v: f64| (p.count > 0).then_some(v);
                written += sqlx::query(
                    "INSERT INTO samples_5m (series_id, bucket, min, max, sum, count, nan, last)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (series_id, bucket) DO UPDATE SET min = excluded.min,
                        max = excluded.max, sum = excluded.sum, count = excluded.count,
                        nan = excluded.nan, last = excluded.last",
                )
                .bind(id)
                .bind(p.bucket_ms)
                .bind(num(p.min))
                .bind(num(p.max))
                .bind(num(p.sum))
                .bind(p.count)
                .bind(p.nan)
                .bind((!p.last.is_nan()).then_some(p.last))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
    }
    Ok(written)
}

/// The first pass starts at the oldest sample (a one-off scan), or at the
/// horizon when there is no data yet.
async fn watermark(tx: &mut SqliteConnection, now_ms: i64) -> Result<i64> {
    let current: Option<i64> =
        sqlx::query_scalar("SELECT watermark_ms FROM rollup_state WHERE name = '5m'")
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(w) = current {
        return Ok(w);
    }
    let rows: Option<i64> = sqlx::query_scalar("SELECT min(ts) FROM samples")
        .fetch_one(&mut *tx)
        .await?;
    let chunked: Option<i64> = sqlx::query_scalar("SELECT min(first_ts) FROM sample_chunks")
        .fetch_one(&mut *tx)
        .await?;
    let oldest = rows.into_iter().chain(chunked).min();
    let initial = oldest.map_or_else(|| rollup::horizon(now_ms), |t| rollup::bucket_of(t, FIVE));
    sqlx::query("INSERT INTO rollup_state (name, watermark_ms) VALUES ('5m', ?)")
        .bind(initial)
        .execute(&mut *tx)
        .await?;
    Ok(initial)
}

impl SqliteStore {
    /// One bounded step; returns (buckets written, caught up).
    pub(super) async fn rollup_step(&self, now_ms: i64) -> Result<(u64, bool)> {
        let (step, claimed) = {
            let mut tx = self.writer.begin().await?;
            // The samples behind the marks claimed below must be in
            // `samples`, not waiting in the log: dirty buckets are claimed
            // only once it is empty. The watermark's range needs no such
            // care: it ends two minutes ago, and a sample that old was
            // marked late by its ingest.
            let (filed, filed_all) = super::flush::file_rest(&mut tx).await?;
            // Data older than retention is about to be deleted: never spend
            // a pass rolling it up (a backfill at the epoch would otherwise
            // mean decades of empty buckets).
            let retention = self.retention_ms.load(std::sync::atomic::Ordering::Relaxed);
            let floor = rollup::floor(now_ms - retention, FIVE);
            let start = watermark(&mut tx, now_ms).await?.max(floor);
            // Claimed with their marks: one marked again while the batches
            // run stays dirty for the next step.
            let claimed: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT bucket_ms, marks FROM rollup_dirty ORDER BY bucket_ms LIMIT ?",
            )
            .bind(if filed_all {
                rollup::MAX_DIRTY_PER_STEP
            } else {
                0
            })
            .fetch_all(&mut *tx)
            .await?;
            let dirty: Vec<i64> = claimed.iter().map(|c| c.0).collect();
            let step = rollup::plan_step(start, &dirty, now_ms);
            tx.commit().await?;
            if let Some(last) = filed {
                self.head.forget(last);
            }
            (step, claimed)
        };
        let mut written = 0;
        let has_work = !step.five_minute.is_empty() || !step.hours.is_empty();
        let (mut after, mut batch) = (i64::MIN, FIRST_BATCH);
        while has_work && after < i64::MAX {
            let started = Instant::now();
            let mut tx = self.writer.begin().await?;
            let through: Option<i64> = sqlx::query_scalar(
                "SELECT max(id) FROM (SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?)",
            )
            .bind(after)
            .bind(batch)
            .fetch_one(&mut *tx)
            .await?;
            let Some(through) = through else {
                tx.commit().await?;
                break;
            };
            let ids = (after, through);
            // Below the compaction watermark samples may be in chunks,
            // which SQL cannot read: those buckets are computed here. Read
            // in each batch's transaction, as compaction may move on
            // between batches.
            let compacted = chunks::watermark(&mut tx).await?;
            for &(from, to) in &step.five_minute {
                if from < compacted {
                    written += rollup_5m_merged(&mut tx, from, to.min(compacted), ids).await?;
                }
                if to > compacted {
                    written += rollup_5m(&mut tx, from.max(compacted), to, ids).await?;
                }
            }
            for h in &step.hours {
                written += sqlx::query(ROLLUP_1H)
                    .bind(h)
                    .bind(ids.0)
                    .bind(ids.1)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            after = through;
            batch = match started.elapsed() {
                t if t < FAST => (batch * 2).min(MAX_BATCH),
                t if t > SLOW => (batch / 2).max(1),
                _ => batch,
            };
        }
        let mut tx = self.writer.begin().await?;
        for (bucket, marks) in claimed {
            sqlx::query("DELETE FROM rollup_dirty WHERE bucket_ms = ? AND marks = ?")
                .bind(bucket)
                .bind(marks)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(w) = step.watermark {
            sqlx::query("UPDATE rollup_state SET watermark_ms = ? WHERE name = '5m'")
                .bind(w)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((written, step.caught_up))
    }
}
