//! Retention for SQLite: rows, rollups and chunks older than the cutoff
//! are deleted in bounded statements, each its own transaction, so a pass
//! after a long outage or a backfill never holds the one writer for long.

use super::chunks::corrupt;
use super::compact::insert_chunks;
use super::SqliteStore;
use crate::storage::compaction::{self, WINDOW_MS};
use crate::storage::{chunk, Result};

/// Rows one retention statement deletes.
const RETENTION_ROWS_PER_STATEMENT: i64 = 20_000;

impl SqliteStore {
    /// Deletes rows of `table` (keyed by series_id, `col`) with `col <
    /// cutoff`, a bounded chunk per statement. Series are walked in id
    /// order, each with a seek on the primary key, and the walk resumes at
    /// the last series a chunk reached.
    pub(super) async fn delete_before(&self, table: &str, col: &str, cutoff: i64) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {table} WHERE (series_id, {col}) IN
               (SELECT v.series_id, v.{col} FROM series s CROSS JOIN {table} v
                  ON v.series_id = s.id AND v.{col} < ?1
                WHERE s.id >= ?2 ORDER BY s.id LIMIT ?3)
             RETURNING series_id"
        );
        let mut from = i64::MIN;
        let mut total = 0;
        loop {
            let ids: Vec<i64> = sqlx::query_scalar(&sql)
                .bind(cutoff)
                .bind(from)
                .bind(RETENTION_ROWS_PER_STATEMENT)
                .fetch_all(&self.writer)
                .await?;
            total += ids.len() as u64;
            if (ids.len() as i64) < RETENTION_ROWS_PER_STATEMENT {
                return Ok(total);
            }
            from = ids.iter().copied().max().unwrap_or(from);
        }
    }

    /// Deletes chunked samples older than `cutoff`: whole chunks, then
    /// the chunks that straddle it, re-encoded with what is left.
    pub(super) async fn delete_chunks_before(&self, cutoff: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let counts: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM sample_chunks WHERE (series_id, first_ts) IN
                   (SELECT series_id, first_ts FROM sample_chunks
                    WHERE first_ts < ?1 AND last_ts < ?1 LIMIT ?2)
                 RETURNING count",
            )
            .bind(cutoff)
            .bind(CHUNKS_PER_STATEMENT)
            .fetch_all(&self.writer)
            .await?;
            total += counts.iter().sum::<i64>() as u64;
            if (counts.len() as i64) < CHUNKS_PER_STATEMENT {
                break;
            }
        }
        loop {
            let mut tx = self.writer.begin().await?;
            let straddling: Vec<(i64, i64, i64, Vec<u8>)> = sqlx::query_as(
                "SELECT series_id, first_ts, count, data FROM sample_chunks
                 WHERE first_ts > ?1 AND first_ts < ?2 AND last_ts >= ?2 LIMIT ?3",
            )
            .bind(cutoff.saturating_sub(WINDOW_MS))
            .bind(cutoff)
            .bind(CHUNKS_PER_STATEMENT)
            .fetch_all(&mut *tx)
            .await?;
            for (id, first, count, data) in &straddling {
                let mut kept = Vec::new();
                chunk::decode_into(data, cutoff, i64::MAX, &mut kept)
                    .map_err(|e| corrupt(*id, *first, e))?;
                total += (*count as u64).saturating_sub(kept.len() as u64);
                sqlx::query("DELETE FROM sample_chunks WHERE series_id = ? AND first_ts = ?")
                    .bind(id)
                    .bind(first)
                    .execute(&mut *tx)
                    .await?;
                let parts = compaction::encode_all(&kept).map_err(|e| corrupt(*id, *first, e))?;
                insert_chunks(&mut tx, *id, &parts).await?;
            }
            tx.commit().await?;
            if (straddling.len() as i64) < CHUNKS_PER_STATEMENT {
                return Ok(total);
            }
        }
    }
}

/// Chunks one retention statement deletes or trims.
const CHUNKS_PER_STATEMENT: i64 = 500;
