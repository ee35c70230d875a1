//! Partitions, rollups and retention for PostgreSQL. With TimescaleDB the
//! extension's policies drop and compress chunks, and the server decides
//! what the continuous aggregates cover: it refreshes them itself, range
//! by range, with the same plan and watermark as its own rollup tables
//! (see `timescale_step`), so no read depends on a background job having
//! run.

use super::rollup_chunks::rollup_5m_merged;
use super::{chunks, Layout, PgStore, DAY_MS};
use crate::storage::rollup;
use crate::storage::{Maintenance, Result, RetentionOutcome};
use async_trait::async_trait;
use sqlx::PgConnection;
use tracing::instrument;

const FIVE: i64 = 300_000;

// Buckets are left-open (see `storage::rollup`): bucket b holds
// b < ts <= b + 5m; samples are whole milliseconds. Staleness markers (a
// NaN with Prometheus's bits) are not samples; NaN samples are counted in
// `nan`, apart from the numbers, as the TimescaleDB aggregates do
// (migrations/postgres/0021_rollup_nan.sql).
const ROLLUP_5M: &str = "INSERT INTO samples_5m (series_id, bucket, min, max, sum, count, nan, last)
    SELECT series_id, date_bin(INTERVAL '5 minutes', ts - INTERVAL '1 millisecond', TIMESTAMPTZ 'epoch'),
           coalesce(min(value) FILTER (WHERE value <> 'NaN'), 'NaN'),
           coalesce(max(value) FILTER (WHERE value <> 'NaN'), 'NaN'),
           coalesce(sum(value) FILTER (WHERE value <> 'NaN'), 0),
           count(*) FILTER (WHERE value <> 'NaN'), count(*) FILTER (WHERE value = 'NaN'),
           (array_agg(value ORDER BY ts DESC))[1]
    FROM samples WHERE ts > dozor_ts($1) AND ts <= dozor_ts($2)
        AND NOT (value = 'NaN' AND float8send(value) = '\\x7ff0000000000002'::bytea)
    GROUP BY 1, 2
    ON CONFLICT (series_id, bucket) DO UPDATE SET min = EXCLUDED.min, max = EXCLUDED.max,
        sum = EXCLUDED.sum, count = EXCLUDED.count, nan = EXCLUDED.nan, last = EXCLUDED.last";

const ROLLUP_1H: &str =
    "INSERT INTO samples_1h (series_id, bucket, min, max, sum, count, nan, last)
    SELECT series_id, dozor_ts($1),
           coalesce(min(min) FILTER (WHERE count > 0), 'NaN'),
           coalesce(max(max) FILTER (WHERE count > 0), 'NaN'),
           sum(sum), sum(count), sum(nan), (array_agg(last ORDER BY bucket DESC))[1]
    FROM samples_5m WHERE bucket >= dozor_ts($1) AND bucket < dozor_ts($1 + 3600000)
    GROUP BY series_id
    ON CONFLICT (series_id, bucket) DO UPDATE SET min = EXCLUDED.min, max = EXCLUDED.max,
        sum = EXCLUDED.sum, count = EXCLUDED.count, nan = EXCLUDED.nan, last = EXCLUDED.last";

impl PgStore {
    async fn rollup_step(&self, now_ms: i64) -> Result<(u64, bool)> {
        let mut tx = self.pool.begin().await?;
        // Data older than retention is about to be deleted: never spend a
        // pass rolling it up (a backfill at the epoch would otherwise mean
        // decades of empty buckets).
        let retention = self.retention_ms.load(std::sync::atomic::Ordering::Relaxed);
        let floor = rollup::floor(now_ms - retention, 300_000);
        let start = watermark(&mut tx, now_ms).await?.max(floor);
        let dirty: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM rollup_dirty WHERE bucket_ms IN
               (SELECT bucket_ms FROM rollup_dirty ORDER BY bucket_ms LIMIT $1)
             RETURNING bucket_ms",
        )
        .bind(rollup::MAX_DIRTY_PER_STEP)
        .fetch_all(&mut *tx)
        .await?;
        let step = rollup::plan_step(start, &dirty, now_ms);
        let mut written = 0;
        // Below the compaction watermark samples may be in chunks.
        let compacted = chunks::watermark(&mut tx).await?;
        for &(from, to) in &step.five_minute {
            if from < compacted {
                written += rollup_5m_merged(&mut tx, from, to.min(compacted)).await?;
            }
            if to > compacted {
                written += run(&mut tx, ROLLUP_5M, &[from.max(compacted), to]).await?;
            }
        }
        if let Some(w) = step.watermark {
            sqlx::query("UPDATE rollup_state SET watermark_ms = $1 WHERE name = '5m'")
                .bind(w)
                .execute(&mut *tx)
                .await?;
        }
        for h in &step.hours {
            written += run(&mut tx, ROLLUP_1H, &[*h]).await?;
        }
        tx.commit().await?;
        Ok((written, step.caught_up))
    }
}

/// Two servers on one database take turns rolling up (TimescaleDB's
/// refreshes cannot run inside the transaction that would lock the
/// watermark row).
const ROLLUP_LOCK: i64 = 0x646f_7a6f_725f_726f; // "dozor_ro"

impl PgStore {
    /// One bounded step on TimescaleDB: claim dirty buckets and plan as
    /// the partitioned layout does, refresh those ranges of the
    /// continuous aggregates (5-minute, then the hours completed), and
    /// only then move the watermark. A read trusts the aggregates below
    /// the watermark and outside dirty buckets only, so backfills, late
    /// samples and a refresh job that never ran all fall back to raw
    /// samples. None: another server holds the turn.
    async fn timescale_step(&self, now_ms: i64) -> Result<Option<(u64, bool)>> {
        let mut conn = self.pool.acquire().await?;
        let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ROLLUP_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if !mine {
            return Ok(None);
        }
        let result = self.timescale_step_locked(&mut conn, now_ms).await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(ROLLUP_LOCK)
            .execute(&mut *conn)
            .await?;
        result.map(Some)
    }

    async fn timescale_step_locked(
        &self,
        conn: &mut PgConnection,
        now_ms: i64,
    ) -> Result<(u64, bool)> {
        use sqlx::Connection;
        let retention = self.retention_ms.load(std::sync::atomic::Ordering::Relaxed);
        let floor = rollup::floor(now_ms - retention, FIVE);
        let mut tx = conn.begin().await?;
        let start = watermark(&mut tx, now_ms).await?.max(floor);
        let dirty: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM rollup_dirty WHERE bucket_ms IN
               (SELECT bucket_ms FROM rollup_dirty ORDER BY bucket_ms LIMIT $1)
             RETURNING bucket_ms",
        )
        .bind(rollup::MAX_DIRTY_PER_STEP)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let step = rollup::plan_step(start, &dirty, now_ms);
        let mut refreshed = 0;
        let mut outcome = Ok(());
        // The aggregates label a left-open bucket by its first millisecond
        // (migration 0003): bucket b is [b + 1 ms, b + width + 1 ms).
        let windows = step
            .five_minute
            .iter()
            .map(|(from, to)| ("samples_5m", *from, *to))
            .chain(step.hours.iter().map(|h| ("samples_1h", *h, h + 3_600_000)));
        for (view, from, to) in windows {
            let call = format!(
                "CALL refresh_continuous_aggregate('{view}', dozor_ts({}), dozor_ts({}))",
                from + 1,
                to + 1
            );
            if let Err(e) = sqlx::query(&call).execute(&mut *conn).await {
                outcome = Err(e.into());
                break;
            }
            refreshed += 1;
        }
        if let Err(e) = outcome {
            // The claimed buckets are still to do.
            sqlx::query(
                "INSERT INTO rollup_dirty (bucket_ms) SELECT * FROM UNNEST($1::int8[]) ON CONFLICT DO NOTHING",
            )
            .bind(&dirty)
            .execute(&mut *conn)
            .await?;
            return Err(e);
        }
        if let Some(w) = step.watermark {
            sqlx::query("UPDATE rollup_state SET watermark_ms = $1 WHERE name = '5m'")
                .bind(w)
                .execute(&mut *conn)
                .await?;
        }
        Ok((refreshed, step.caught_up))
    }
}

async fn run(tx: &mut PgConnection, sql: &str, args: &[i64]) -> Result<u64> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = q.bind(a);
    }
    Ok(q.execute(&mut *tx).await?.rows_affected())
}

/// Locks the watermark row for the step, so two servers sharing a database
/// never roll up the same range at once. The first pass starts at the
/// oldest sample, or at the horizon when there is no data yet.
async fn watermark(tx: &mut PgConnection, now_ms: i64) -> Result<i64> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rollup_state WHERE name = '5m')")
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        let oldest: Option<i64> = sqlx::query_scalar("SELECT dozor_ms(min(ts)) FROM samples")
            .fetch_one(&mut *tx)
            .await?;
        let initial =
            oldest.map_or_else(|| rollup::horizon(now_ms), |t| rollup::bucket_of(t, FIVE));
        sqlx::query(
            "INSERT INTO rollup_state (name, watermark_ms) VALUES ('5m', $1) ON CONFLICT DO NOTHING",
        )
        .bind(initial)
        .execute(&mut *tx)
        .await?;
    }
    Ok(
        sqlx::query_scalar("SELECT watermark_ms FROM rollup_state WHERE name = '5m' FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?,
    )
}

#[async_trait]
impl Maintenance for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Partitions for yesterday through the day after tomorrow, so ingest
    /// rarely has to create one on the hot path.
    async fn prepare(&self, now_ms: i64) -> Result<()> {
        let today = now_ms.div_euclid(DAY_MS);
        self.ensure_partitions(today - 1..=today + 2).await
    }

    #[instrument(skip_all, fields(backend = "postgres"))]
    async fn refresh_rollups(&self, now_ms: i64) -> Result<u64> {
        let mut total = 0;
        if self.layout == Layout::Timescale {
            for _ in 0..rollup::MAX_STEPS_PER_PASS {
                match self.timescale_step(now_ms).await? {
                    Some((n, caught_up)) => {
                        total += n;
                        if caught_up {
                            break;
                        }
                    }
                    None => break,
                }
            }
            return Ok(total);
        }
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

    #[instrument(skip_all, fields(backend = "postgres"))]
    async fn compact(&self, now_ms: i64) -> Result<u64> {
        self.compact_pass(now_ms).await
    }

    #[instrument(skip_all, fields(backend = "postgres"))]
    async fn prune_series(&self, before_ms: i64) -> Result<u64> {
        // With TimescaleDB the aggregates expire with the samples (same
        // drop_after); without it the rollup tables are checked too.
        let rollups = if self.layout == Layout::Timescale {
            ""
        } else {
            "AND NOT EXISTS (SELECT 1 FROM samples_5m r WHERE r.series_id = s.id)
             AND NOT EXISTS (SELECT 1 FROM samples_1h r WHERE r.series_id = s.id)
             AND NOT EXISTS (SELECT 1 FROM sample_chunks c WHERE c.series_id = s.id)"
        };
        let find = format!(
            "SELECT s.id FROM series s WHERE s.created_ms < $1 AND s.id > $2
               AND NOT EXISTS (SELECT 1 FROM samples v WHERE v.series_id = s.id) {rollups}
             ORDER BY s.id LIMIT 1000"
        );
        let delete = format!(
            "DELETE FROM series s WHERE s.id = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM samples v WHERE v.series_id = s.id) {rollups}"
        );
        let mut from = i64::MIN;
        let mut total = 0;
        loop {
            let ids: Vec<i64> = sqlx::query_scalar(&find)
                .bind(before_ms)
                .bind(from)
                .fetch_all(&self.pool)
                .await?;
            let Some(&last) = ids.last() else {
                return Ok(total);
            };
            self.cache.forget_ids(&ids.iter().copied().collect());
            total += sqlx::query(&delete)
                .bind(&ids)
                .execute(&self.pool)
                .await?
                .rows_affected();
            if ids.len() < 1000 {
                return Ok(total);
            }
            from = last;
        }
    }

    async fn background_jobs(&self) -> Result<Vec<crate::storage::BackgroundJob>> {
        if self.layout != Layout::Timescale {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, String, i64, bool)> = sqlx::query_as(
            "SELECT j.job_id::int8, j.proc_name::text, coalesce(j.hypertable_name::text, ''),
                    coalesce(s.total_failures, 0)::int8,
                    coalesce(s.last_run_status = 'Failed', false)
             FROM timescaledb_information.jobs j
             LEFT JOIN timescaledb_information.job_stats s USING (job_id)
             WHERE j.job_id >= 1000
             ORDER BY j.job_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::storage::BackgroundJob {
                id: r.0,
                kind: r.1,
                table: r.2,
                failures: r.3,
                last_failed: r.4,
            })
            .collect())
    }

    async fn set_retention(&self, retention_ms: i64) -> Result<()> {
        self.retention_ms
            .store(retention_ms, std::sync::atomic::Ordering::Relaxed);
        if self.layout == Layout::Timescale {
            self.set_timescale_retention(retention_ms).await?;
        }
        Ok(())
    }

    #[instrument(skip_all, fields(backend = "postgres"))]
    async fn apply_retention(&self, now_ms: i64, retention_ms: i64) -> Result<RetentionOutcome> {
        let cutoff = now_ms - retention_ms;
        if self.layout == Layout::Timescale {
            // The extension's retention policies do the same on their
            // schedule; dropping here as well means expiry never depends
            // on a background job having run. Whole 1-day chunks only.
            let mut dropped = 0;
            for table in ["samples", "samples_5m", "samples_1h"] {
                let chunks: Vec<String> = sqlx::query_scalar(
                    "SELECT drop_chunks($1::regclass, older_than => dozor_ts($2))::text",
                )
                .bind(table)
                .bind(cutoff)
                .fetch_all(&self.pool)
                .await?;
                dropped += chunks.len() as u64;
            }
            sqlx::query("DELETE FROM rollup_dirty WHERE bucket_ms < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
            return Ok(RetentionOutcome {
                deleted_samples: 0,
                dropped_partitions: dropped,
            });
        }
        let dropped: i32 = sqlx::query_scalar("SELECT dozor_drop_partitions_before(dozor_ts($1))")
            .bind(cutoff)
            .fetch_one(&self.pool)
            .await?;
        {
            let mut known = self.partitions.lock().await;
            known.retain(|d| (d + 1) * DAY_MS > cutoff);
        }
        // Chunks go whole, as partitions do: the last sample of each is
        // older than the cutoff.
        let deleted: Option<i64> = sqlx::query_scalar(
            "WITH gone AS (DELETE FROM sample_chunks WHERE first_ts < $1 AND last_ts < $1 RETURNING count)
             SELECT sum(count)::int8 FROM gone",
        )
        .bind(cutoff)
        .fetch_one(&self.pool)
        .await?;
        for table in ["samples_5m", "samples_1h"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE bucket < dozor_ts($1)"))
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
        }
        sqlx::query("DELETE FROM rollup_dirty WHERE bucket_ms < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(RetentionOutcome {
            deleted_samples: deleted.unwrap_or(0) as u64,
            dropped_partitions: dropped as u64,
        })
    }
}
