//! Writing samples to PostgreSQL: one `INSERT … SELECT FROM UNNEST`
//! per batch; a batch reaching into closed windows (plain layout) is
//! checked against their chunks first, under the compaction lock.

use super::{chunks, Layout, PgStore, DAY_MS};
use crate::storage::{compaction, rollup, AppendOutcome, Result, SampleWriter};
use async_trait::async_trait;
use dozor_common::SeriesBatch;
use std::collections::HashSet;
use tracing::instrument;

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
        for (i, v) in &held {
            differ += u64::from(!dozor_common::model::same_value(*v, val[*i]));
        }
        let kept = |xs: &[i64]| -> Vec<i64> {
            (0..xs.len())
                .filter(|i| !held.contains_key(i))
                .map(|i| xs[i])
                .collect()
        };
        let v: Vec<f64> = (0..val.len())
            .filter(|i| !held.contains_key(i))
            .map(|i| val[i])
            .collect();
        (*ts, *sid, *val) = (kept(ts), kept(sid), v);
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
