//! Writing samples to SQLite: series ids resolved (cache, then the
//! `series` table), multi-row inserts that skip samples already stored,
//! and, when some were skipped, which of them carried another value.

use super::chunks;
use super::{
    labels_json, parse_labels, value_in, value_out, SqliteStore, Stored, ROWS_PER_INSERT,
    VALUE_COLS,
};
use crate::storage::{compaction, rollup};
use crate::storage::{AppendOutcome, Result, SampleWriter, StorageError};
use async_trait::async_trait;
use dozor_common::model::{fingerprint, series_key};
use dozor_common::SeriesBatch;
use sqlx::Row;
use std::collections::HashMap;
use tracing::instrument;

#[async_trait]
impl SampleWriter for SqliteStore {
    #[instrument(skip_all, fields(backend = "sqlite", series = batch.len()))]
    async fn append(&self, batch: &[SeriesBatch], now_ms: i64) -> Result<AppendOutcome> {
        let mut out = AppendOutcome::default();
        let mut tx = self.writer.begin().await?;
        // New ids enter the cache only after commit: a rolled-back series
        // row must not leave a dangling id behind.
        let mut fresh: Vec<(String, i64)> = Vec::new();
        let mut rows: Vec<(i64, i64, f64)> =
            Vec::with_capacity(batch.iter().map(|s| s.samples.len()).sum());
        for s in batch {
            let key = s.key();
            let id = match self.cache.get(&key, now_ms) {
                Some(id) => id,
                None => {
                    let (id, created) = resolve_series(&mut tx, s, &key, now_ms).await?;
                    out.new_series += u64::from(created);
                    fresh.push((key, id));
                    id
                }
            };
            rows.extend(s.samples.iter().map(|p| (id, p.ts_ms, p.value)));
        }
        let total = rows.len() as u64;
        let in_chunks = backfill(&mut tx, &mut rows).await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from("INSERT INTO samples (series_id, ts, value) VALUES ");
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "(?,?,?)" } else { ",(?,?,?)" });
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            let mut q = sqlx::query(&sql);
            for (id, ts, v) in chunk {
                q = q.bind(id).bind(ts);
                q = match value_in(*v) {
                    Stored::Real(r) => q.bind(r),
                    Stored::Text(t) => q.bind(t),
                    Stored::Null => q.bind(None::<f64>),
                };
            }
            out.stored += q.execute(&mut *tx).await?.rows_affected();
        }
        out.conflicts = in_chunks;
        if out.stored < rows.len() as u64 {
            out.conflicts += conflicts(&mut tx, &rows).await?;
        }
        let late = rollup::late_buckets(rows.iter().map(|r| r.1), now_ms);
        for b in late {
            sqlx::query(
                "INSERT INTO rollup_dirty (bucket_ms) VALUES (?)
                 ON CONFLICT (bucket_ms) DO UPDATE SET marks = marks + 1",
            )
            .bind(b)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        for (key, id) in fresh {
            self.cache.insert(key, id, now_ms);
        }
        out.duplicate = total - out.stored - out.conflicts;
        Ok(out)
    }
}

/// Rows at or below the compaction watermark (backfill, late samples):
/// those a chunk already holds are dropped from `rows`, as the primary key
/// drops re-sent rows, and the windows of the others are marked for the
/// next compaction step. Returns how many dropped rows carried a value
/// other than the stored one.
async fn backfill(tx: &mut sqlx::SqliteConnection, rows: &mut Vec<(i64, i64, f64)>) -> Result<u64> {
    let watermark = chunks::watermark(&mut *tx).await?;
    let old: Vec<(i64, i64, f64)> = rows.iter().filter(|r| r.1 <= watermark).copied().collect();
    if old.is_empty() {
        return Ok(0);
    }
    let stored = chunks::stored_at(&mut *tx, &old).await?;
    let mut differ = 0;
    rows.retain(|(id, ts, v)| match stored.get(&(*id, *ts)) {
        None => true,
        Some(s) => {
            differ += u64::from(!dozor_common::model::same_value(*s, *v));
            false
        }
    });
    let mut windows: Vec<i64> = rows
        .iter()
        .filter(|r| r.1 <= watermark)
        .map(|r| compaction::window_of(r.1))
        .collect();
    windows.sort_unstable();
    windows.dedup();
    for w in windows {
        sqlx::query(
            "INSERT INTO compact_dirty (window_ms, marks) VALUES (?, 1)
             ON CONFLICT (window_ms) DO UPDATE SET marks = marks + 1",
        )
        .bind(w)
        .execute(&mut *tx)
        .await?;
    }
    Ok(differ)
}

/// After an insert that skipped rows: how many of `rows` differ from what
/// is stored at their (series, ts), within the same transaction.
async fn conflicts(tx: &mut sqlx::SqliteConnection, rows: &[(i64, i64, f64)]) -> Result<u64> {
    let mut n = 0;
    // Two parameters per row.
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let marks = vec!["(?,?)"; chunk.len()].join(",");
        let sql = format!(
            "SELECT series_id, ts, {VALUE_COLS} FROM samples WHERE (series_id, ts) IN (VALUES {marks})"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, Option<f64>, i64)>(&sql);
        for (id, ts, _) in chunk {
            q = q.bind(id).bind(ts);
        }
        let stored: HashMap<(i64, i64), f64> = q
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(id, ts, v, kind)| ((id, ts), value_out(v, kind)))
            .collect();
        n += chunk
            .iter()
            .filter(|(id, ts, v)| {
                stored
                    .get(&(*id, *ts))
                    .is_some_and(|s| !dozor_common::model::same_value(*s, *v))
            })
            .count() as u64;
    }
    Ok(n)
}

async fn resolve_series(
    tx: &mut sqlx::SqliteConnection,
    s: &SeriesBatch,
    key: &str,
    now_ms: i64,
) -> Result<(i64, bool)> {
    let fp = fingerprint(key);
    if let Some(row) = sqlx::query("SELECT id, metric, labels FROM series WHERE fingerprint = ?")
        .bind(fp)
        .fetch_optional(&mut *tx)
        .await?
    {
        let (metric, labels): (String, String) = (row.get(1), row.get(2));
        let existing = series_key(&metric, &parse_labels(&labels)?);
        if existing != key {
            return Err(StorageError::Collision(existing, key.to_string()));
        }
        return Ok((row.get(0), false));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO series (fingerprint, metric, labels, created_ms) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(fp)
    .bind(&s.name)
    .bind(labels_json(&s.labels))
    .bind(now_ms)
    .fetch_one(&mut *tx)
    .await?;
    Ok((id, true))
}
