//! Rollups and retention for SQLite (see `storage::rollup` for the scheme).

use super::{chunks, SqliteStore};
use crate::storage::compaction::{self, WINDOW_MS};
use crate::storage::rollup::{self, Resolution};
use crate::storage::{Maintenance, Result, RetentionOutcome};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use tracing::instrument;

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
          WHERE typeof(v.value) <> 'null') x
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
    WHERE 1
    GROUP BY x.series_id, h
    ON CONFLICT (series_id, bucket) DO UPDATE SET min = excluded.min, max = excluded.max,
        sum = excluded.sum, count = excluded.count, nan = excluded.nan, last = excluded.last";

impl SqliteStore {
    /// One bounded step; returns (buckets written, caught up).
    async fn rollup_step(&self, now_ms: i64) -> Result<(u64, bool)> {
        let mut tx = self.writer.begin().await?;
        // Data older than retention is about to be deleted: never spend a
        // pass rolling it up (a backfill at the epoch would otherwise mean
        // decades of empty buckets).
        let retention = self.retention_ms.load(std::sync::atomic::Ordering::Relaxed);
        let floor = rollup::floor(now_ms - retention, 300_000);
        let start = watermark(&mut tx, now_ms).await?.max(floor);
        let dirty: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM rollup_dirty WHERE bucket_ms IN
               (SELECT bucket_ms FROM rollup_dirty ORDER BY bucket_ms LIMIT ?)
             RETURNING bucket_ms",
        )
        .bind(rollup::MAX_DIRTY_PER_STEP)
        .fetch_all(&mut *tx)
        .await?;
        let step = rollup::plan_step(start, &dirty, now_ms);
        let mut written = 0;
        // Below the compaction watermark samples may be in chunks, which
        // SQL cannot read: those buckets are computed here.
        let compacted = chunks::watermark(&mut tx).await?;
        for &(from, to) in &step.five_minute {
            if from < compacted {
                written += rollup_5m_merged(&mut tx, from, to.min(compacted)).await?;
            }
            if to > compacted {
                written += rollup_5m(&mut tx, from.max(compacted), to).await?;
            }
        }
        if let Some(w) = step.watermark {
            sqlx::query("UPDATE rollup_state SET watermark_ms = ? WHERE name = '5m'")
                .bind(w)
                .execute(&mut *tx)
                .await?;
        }
        for h in &step.hours {
            written += sqlx::query(ROLLUP_1H)
                .bind(h)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok((written, step.caught_up))
    }
}

async fn rollup_5m(tx: &mut SqliteConnection, from: i64, to: i64) -> Result<u64> {
    Ok(sqlx::query(ROLLUP_5M)
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?
        .rows_affected())
}

/// The 5-minute rollups of `from < ts <= to` from chunks and rows
/// together, for the series holding samples there.
async fn rollup_5m_merged(tx: &mut SqliteConnection, from: i64, to: i64) -> Result<u64> {
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT s.id FROM series s WHERE EXISTS
           (SELECT 1 FROM samples v WHERE v.series_id = s.id AND v.ts > ?1 AND v.ts <= ?2)",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    ids.extend(
        sqlx::query_scalar::<_, i64>(
            "SELECT DISTINCT series_id FROM sample_chunks
             WHERE first_ts > ?1 AND first_ts <= ?2 AND last_ts > ?3",
        )
        .bind(from.saturating_sub(WINDOW_MS))
        .bind(to)
        .bind(from)
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

#[async_trait]
impl Maintenance for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn prepare(&self, _now_ms: i64) -> Result<()> {
        Ok(())
    }

    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn prune_series(&self, before_ms: i64) -> Result<u64> {
        // Candidates are read, forgotten by the cache, then deleted only if
        // still empty. The delete runs on the one writer, after any ingest
        // that resolved an id before the cache forgot it has committed; an
        // ingest after that looks the series up afresh.
        let find = "SELECT s.id FROM series s WHERE s.created_ms < ?1 AND s.id > ?2
              AND NOT EXISTS (SELECT 1 FROM samples v WHERE v.series_id = s.id)
              AND NOT EXISTS (SELECT 1 FROM samples_5m r WHERE r.series_id = s.id)
              AND NOT EXISTS (SELECT 1 FROM samples_1h r WHERE r.series_id = s.id)
              AND NOT EXISTS (SELECT 1 FROM sample_chunks c WHERE c.series_id = s.id)
            ORDER BY s.id LIMIT ?3";
        let mut from = i64::MIN;
        let mut total = 0;
        loop {
            let ids: Vec<i64> = sqlx::query_scalar(find)
                .bind(before_ms)
                .bind(from)
                .bind(PRUNE_SERIES_PER_STATEMENT)
                .fetch_all(&self.reader)
                .await?;
            let Some(&last) = ids.last() else {
                return Ok(total);
            };
            self.cache.forget_ids(&ids.iter().copied().collect());
            let marks = vec!["?"; ids.len()].join(",");
            let sql = format!(
                "DELETE FROM series WHERE id IN ({marks})
                   AND NOT EXISTS (SELECT 1 FROM samples v WHERE v.series_id = series.id)
                   AND NOT EXISTS (SELECT 1 FROM samples_5m r WHERE r.series_id = series.id)
                   AND NOT EXISTS (SELECT 1 FROM samples_1h r WHERE r.series_id = series.id)
                   AND NOT EXISTS (SELECT 1 FROM sample_chunks c WHERE c.series_id = series.id)"
            );
            let mut q = sqlx::query(&sql);
            for id in &ids {
                q = q.bind(id);
            }
            total += q.execute(&self.writer).await?.rows_affected();
            if (ids.len() as i64) < PRUNE_SERIES_PER_STATEMENT {
                return Ok(total);
            }
            from = last;
        }
    }

    async fn set_retention(&self, retention_ms: i64) -> Result<()> {
        self.retention_ms
            .store(retention_ms, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn refresh_rollups(&self, now_ms: i64) -> Result<u64> {
        let mut total = 0;
        // Bounded per call so one pass cannot hold the writer for long;
        // the next maintenance tick continues.
        for _ in 0..rollup::MAX_STEPS_PER_PASS {
            let (n, caught_up) = self.rollup_step(now_ms).await?;
            total += n;
            if caught_up {
                break;
            }
        }
        Ok(total)
    }

    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn compact(&self, now_ms: i64) -> Result<u64> {
        self.compact_pass(now_ms).await
    }

    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn apply_retention(&self, now_ms: i64, retention_ms: i64) -> Result<RetentionOutcome> {
        let cutoff = now_ms - retention_ms;
        let deleted = self.delete_before("samples", "ts", cutoff).await?
            + self.delete_chunks_before(cutoff).await?;
        for res in [Resolution::FiveMinutes, Resolution::OneHour] {
            self.delete_before(res.table(), "bucket", cutoff).await?;
        }
        sqlx::query("DELETE FROM rollup_dirty WHERE bucket_ms < ?")
            .bind(cutoff)
            .execute(&self.writer)
            .await?;
        Ok(RetentionOutcome {
            deleted_samples: deleted,
            dropped_partitions: 0,
        })
    }
}

/// Series one pruning statement considers.
const PRUNE_SERIES_PER_STATEMENT: i64 = 1_000;
