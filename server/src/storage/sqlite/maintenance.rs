//! Maintenance for SQLite: rollups (`rollups.rs`), compaction
//! (`compact.rs`), series pruning and retention.

use super::{flush, SqliteStore};
use crate::storage::rollup::{self, Resolution};
use crate::storage::{Maintenance, Result, RetentionOutcome};
use async_trait::async_trait;
use tracing::instrument;

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
        self.drain().await?;
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
            // What was logged since the drain is moved first, in the same
            // transaction: a series whose samples wait in the log is not
            // empty.
            let mut tx = self.writer.begin().await?;
            let (flushed, filed_all) = flush::file_rest(&mut tx).await?;
            if filed_all {
                total += q.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            if let Some(last) = flushed {
                self.head.forget(last);
            }
            // Under a flood of ingest the rest waits for the next pass.
            if !filed_all || (ids.len() as i64) < PRUNE_SERIES_PER_STATEMENT {
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
        // Rollups read `samples`: the log goes there first.
        self.drain().await?;
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

    async fn flush(&self) -> Result<()> {
        self.drain().await
    }

    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn compact(&self, now_ms: i64) -> Result<u64> {
        self.drain().await?;
        self.compact_pass(now_ms).await
    }

    #[instrument(skip_all, fields(backend = "sqlite"))]
    async fn apply_retention(&self, now_ms: i64, retention_ms: i64) -> Result<RetentionOutcome> {
        let cutoff = now_ms - retention_ms;
        // Old samples waiting in the log are deleted with the others.
        self.drain().await?;
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
