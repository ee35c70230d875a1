//! Writing samples to SQLite: series ids resolved (cache, then the
//! `series` table), samples already stored dropped (and counted when
//! they carried another value), and the new ones written to the ingest
//! log as one row and added to the head (`head.rs`, `flush.rs`).

use super::head::{self, Row};
use super::{chunks, flush};
use super::{labels_json, parse_labels, value_out, SqliteStore, ROWS_PER_INSERT, VALUE_COLS};
use crate::storage::{rollup, AppendOutcome, Result, SampleWriter, StorageError};
use async_trait::async_trait;
use dozor_common::model::{fingerprint, series_key};
use dozor_common::SeriesBatch;
use sqlx::{Row as _, SqliteConnection};
use std::collections::HashMap;
use std::time::Duration;
use tracing::instrument;

#[async_trait]
impl SampleWriter for SqliteStore {
    #[instrument(skip_all, fields(backend = "sqlite", series = batch.len()))]
    async fn append(&self, batch: &[SeriesBatch], now_ms: i64) -> Result<AppendOutcome> {
        // Flushing has fallen behind: this ingest waits for it, which
        // bounds the head's memory.
        loop {
            // Made before the check, so a flush between the two wakes it.
            let filed = self.head.filed();
            if self.head.len() < flush::HEAD_CAP {
                break;
            }
            if tokio::time::timeout(Duration::from_secs(2), filed)
                .await
                .is_err()
            {
                // No flush came (a failing disk keeps failing it): file a
                // batch here, and let its error reach the client as 503.
                flush::flush_batch(&self.writer, &self.head, &self.filing).await?;
            }
        }
        let mut out = AppendOutcome::default();
        let mut tx = self.writer.begin().await?;
        // New ids enter the cache only after commit: a rolled-back series
        // row must not leave a dangling id behind.
        let mut fresh: Vec<(String, i64)> = Vec::new();
        let mut rows: Vec<Row> = Vec::with_capacity(batch.iter().map(|s| s.samples.len()).sum());
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
        let (rows, conflicts) = self.new_rows(&mut tx, rows).await?;
        // Marked here, in the ingest's transaction, so that a query right
        // after it reads the bucket raw; a rollup step claims marks only
        // once the log is filed (`flush::file_rest`).
        for b in rollup::late_buckets(rows.iter().map(|r| r.1), now_ms) {
            sqlx::query(
                "INSERT INTO rollup_dirty (bucket_ms) VALUES (?)
                 ON CONFLICT (bucket_ms) DO UPDATE SET marks = marks + 1",
            )
            .bind(b)
            .execute(&mut *tx)
            .await?;
        }
        flush::mark_compacted(&mut tx, &rows).await?;
        let seq: Option<i64> = if rows.is_empty() {
            None
        } else {
            Some(
                sqlx::query_scalar("INSERT INTO samples_log (body) VALUES (?) RETURNING seq")
                    .bind(head::encode(&rows))
                    .fetch_one(&mut *tx)
                    .await?,
            )
        };
        tx.commit().await?;
        for (key, id) in fresh {
            self.cache.insert(key, id, now_ms);
        }
        // Were this future dropped between the commit and here, the
        // samples would be safe in the log but read only once filed (at
        // most a minute later, or at the next maintenance pass).
        if let Some(seq) = seq {
            self.head.insert(seq, &rows);
        }
        out.stored = rows.len() as u64;
        out.conflicts = conflicts;
        out.duplicate = total - out.stored - out.conflicts;
        Ok(out)
    }
}

impl SqliteStore {
    /// Of `rows`, the samples not stored yet (the first of any repeated
    /// within `rows`), and how many of the others carried a value other
    /// than the stored one. A sample newer than its series' bound is new
    /// without a look at the table; only the others (re-sent, late,
    /// backfilled) are looked up in the head, the rows and the chunks.
    async fn new_rows(&self, tx: &mut SqliteConnection, rows: Vec<Row>) -> Result<(Vec<Row>, u64)> {
        let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut bounds = self.head.newest(&ids);
        let unknown: Vec<i64> = ids
            .iter()
            .zip(&bounds)
            .filter(|(_, n)| n.is_none())
            .map(|(id, _)| *id)
            .collect();
        // Read again only when some were loaded: most ingests know every
        // series already, and this runs on each of them.
        if !unknown.is_empty() {
            self.head
                .load_newest(newest_stored(&mut *tx, &unknown).await?);
            bounds = self.head.newest(&ids);
        }
        let mut newest: HashMap<i64, i64> = ids
            .iter()
            .copied()
            .zip(bounds.into_iter().map(|n| n.unwrap_or(i64::MAX)))
            .collect();
        let (mut keep, mut slow) = (Vec::with_capacity(rows.len()), Vec::new());
        for r in rows {
            let bound = newest.entry(r.0).or_insert(i64::MAX);
            if r.1 > *bound {
                *bound = r.1;
                keep.push(r);
            } else {
                slow.push(r);
            }
        }
        // Raised before the commit: a bound may only ever be too high.
        self.head.raise_newest(newest);
        let mut conflicts = 0;
        if slow.is_empty() {
            return Ok((keep, conflicts));
        }
        let differ = |a: f64, b: f64| u64::from(!dozor_common::model::same_value(a, b));
        let mut candidates = Vec::new();
        for r in slow {
            match self.head.value_at(r.0, r.1) {
                Some(v) => conflicts += differ(v, r.2),
                None => candidates.push(r),
            }
        }
        let stored = stored_values(&mut *tx, &candidates).await?;
        let mut seen: HashMap<(i64, i64), f64> = keep.iter().map(|r| ((r.0, r.1), r.2)).collect();
        for r in candidates {
            match stored.get(&(r.0, r.1)).or(seen.get(&(r.0, r.1))) {
                Some(v) => conflicts += differ(*v, r.2),
                None => {
                    seen.insert((r.0, r.1), r.2);
                    keep.push(r);
                }
            }
        }
        Ok((keep, conflicts))
    }
}

/// Each series' newest stored timestamp, in rows or chunks. A series'
/// chunks do not overlap, so its last chunk by start ends newest.
async fn newest_stored(tx: &mut SqliteConnection, ids: &[i64]) -> Result<Vec<(i64, Option<i64>)>> {
    let mut out = Vec::with_capacity(ids.len());
    for part in ids.chunks(ROWS_PER_INSERT) {
        let list: Vec<String> = part.iter().map(i64::to_string).collect();
        let found: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT j.value,
               (SELECT ts FROM samples WHERE series_id = j.value ORDER BY ts DESC LIMIT 1),
               (SELECT last_ts FROM sample_chunks WHERE series_id = j.value
                ORDER BY first_ts DESC LIMIT 1)
             FROM json_each(?) j",
        )
        .bind(format!("[{}]", list.join(",")))
        .fetch_all(&mut *tx)
        .await?;
        out.extend(found.into_iter().map(|(id, r, c)| (id, r.max(c))));
    }
    Ok(out)
}

/// The values stored, in rows or chunks, at the (series, ts) of `rows`.
async fn stored_values(
    tx: &mut SqliteConnection,
    rows: &[Row],
) -> Result<HashMap<(i64, i64), f64>> {
    let mut stored = HashMap::new();
    if rows.is_empty() {
        return Ok(stored);
    }
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
        for (id, ts, v, kind) in q.fetch_all(&mut *tx).await? {
            stored.insert((id, ts), value_out(v, kind));
        }
    }
    let watermark = chunks::watermark(&mut *tx).await?;
    let old: Vec<Row> = rows.iter().filter(|r| r.1 <= watermark).copied().collect();
    if !old.is_empty() {
        stored.extend(chunks::stored_at(&mut *tx, &old).await?);
    }
    Ok(stored)
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
