//! Compaction for plain PostgreSQL (see `storage::compaction` and
//! `chunks`): closed windows' rows become chunks, a bounded batch of
//! series per transaction, each under the exclusive compaction lock.

use super::chunks::{self, corrupt, COMPACT_LOCK};
use super::{Layout, PgStore};
use crate::storage::compaction::{self, Cursor, Step, WINDOW_MS};
use crate::storage::Result;
use sqlx::PgConnection;
use std::sync::atomic::Ordering;

impl PgStore {
    /// A bounded pass of steps; returns the series windows compacted.
    pub(super) async fn compact_pass(&self, now_ms: i64) -> Result<u64> {
        if self.layout == Layout::Timescale {
            return Ok(0);
        }
        let (mut cursor, mut total) = (None, 0);
        for _ in 0..compaction::MAX_STEPS_PER_PASS {
            match self.compact_step(now_ms, cursor).await? {
                Step::Idle => break,
                Step::Moved(n, c) => {
                    total += n;
                    cursor = c.resume();
                }
            }
        }
        Ok(total)
    }

    async fn compact_step(&self, now_ms: i64, cursor: Option<Cursor>) -> Result<Step> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(COMPACT_LOCK)
            .execute(&mut *tx)
            .await?;
        let retention = self.retention_ms.load(Ordering::Relaxed);
        let cursor = match cursor {
            Some(c) => c,
            None => match next_window(&mut tx, now_ms, retention).await? {
                Some(c) => c,
                None => {
                    tx.commit().await?;
                    return Ok(Step::Idle);
                }
            },
        };
        let Cursor { window, after, .. } = cursor;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT s.id FROM series s WHERE s.id > $1 AND EXISTS
               (SELECT 1 FROM samples v WHERE v.series_id = s.id
                  AND v.ts > dozor_ts($2) AND v.ts <= dozor_ts($3))
             ORDER BY s.id LIMIT $4",
        )
        .bind(after)
        .bind(window)
        .bind(window + WINDOW_MS)
        .bind(compaction::SERIES_PER_STEP as i64)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            if let Some(marks) = cursor.marks {
                // Marked again meanwhile: the next pass walks it again.
                sqlx::query("DELETE FROM compact_dirty WHERE window_ms = $1 AND marks = $2")
                    .bind(window)
                    .bind(marks)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(Step::Moved(0, cursor.finished()));
        }
        let rows: Vec<(i64, i64, f64)> = sqlx::query_as(
            "SELECT series_id, dozor_ms(ts), value FROM samples
             WHERE series_id = ANY($1) AND ts > dozor_ts($2) AND ts <= dozor_ts($3)
             ORDER BY series_id, ts LIMIT $4",
        )
        .bind(&ids)
        .bind(window)
        .bind(window + WINDOW_MS)
        .bind(compaction::ROWS_PER_STEP)
        .fetch_all(&mut *tx)
        .await?;
        let (rows, whole) = compaction::group_rows(rows);
        let last_done = whole.last().copied().unwrap_or(after);
        let existing: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT series_id, first_ts, data FROM sample_chunks
             WHERE series_id = ANY($1) AND first_ts > $2 AND first_ts <= $3
             ORDER BY series_id, first_ts",
        )
        .bind(&ids)
        .bind(window)
        .bind(window + WINDOW_MS)
        .fetch_all(&mut *tx)
        .await?;
        let mut by_series: std::collections::HashMap<i64, Vec<(i64, Vec<u8>)>> = Default::default();
        for (id, first, data) in existing {
            by_series.entry(id).or_default().push((first, data));
        }
        let mut batch = Rebuilt::default();
        for (id, fresh) in rows {
            let (lo, hi) = (fresh[0].0, fresh[fresh.len() - 1].0);
            let old = by_series.remove(&id).unwrap_or_default();
            match compaction::rebuild(&old, fresh) {
                Ok(parts) => batch.add(id, lo, hi, parts),
                // A chunk that does not decode is left as it is, with the
                // series' rows beside it: reads report it, and the other
                // series of the window are compacted.
                Err((first, e)) => {
                    tracing::error!(series = id, window, error = %corrupt(id, first, e), "cannot compact")
                }
            }
        }
        let done = batch.write(&mut tx, window).await?;
        tx.commit().await?;
        Ok(Step::Moved(
            done,
            Cursor {
                after: last_done,
                ..cursor
            },
        ))
    }
}

/// The series a step rebuilt, as arrays for one statement each.
#[derive(Default)]
struct Rebuilt {
    series: Vec<i64>,
    lo: Vec<i64>,
    hi: Vec<i64>,
    chunk_series: Vec<i64>,
    first: Vec<i64>,
    last: Vec<i64>,
    count: Vec<i64>,
    data: Vec<Vec<u8>>,
}

impl Rebuilt {
    fn add(&mut self, id: i64, lo: i64, hi: i64, parts: Vec<compaction::Encoded>) {
        self.series.push(id);
        self.lo.push(lo);
        self.hi.push(hi);
        for p in parts {
            self.chunk_series.push(id);
            self.first.push(p.first_ts);
            self.last.push(p.last_ts);
            self.count.push(p.count);
            self.data.push(p.data);
        }
    }

    /// Replaces the series' chunks in the window and deletes the rows
    /// they took in; returns the series written.
    async fn write(self, tx: &mut PgConnection, window: i64) -> Result<u64> {
        if self.series.is_empty() {
            return Ok(0);
        }
        sqlx::query(
            "DELETE FROM sample_chunks
             WHERE series_id = ANY($1) AND first_ts > $2 AND first_ts <= $3",
        )
        .bind(&self.series)
        .bind(window)
        .bind(window + WINDOW_MS)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO sample_chunks (series_id, first_ts, last_ts, count, data)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::bytea[])",
        )
        .bind(&self.chunk_series)
        .bind(&self.first)
        .bind(&self.last)
        .bind(&self.count)
        .bind(&self.data)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM samples s USING UNNEST($1::int8[], $2::int8[], $3::int8[]) AS u(id, lo, hi)
             WHERE s.series_id = u.id AND s.ts >= dozor_ts(u.lo) AND s.ts <= dozor_ts(u.hi)",
        )
        .bind(&self.series)
        .bind(&self.lo)
        .bind(&self.hi)
        .execute(&mut *tx)
        .await?;
        Ok(self.series.len() as u64)
    }
}

/// As the SQLite store's: a dirty window first, else the one at the
/// watermark if it has closed; the watermark moves past it as its walk
/// starts.
async fn next_window(tx: &mut PgConnection, now_ms: i64, retention: i64) -> Result<Option<Cursor>> {
    let dirty: Option<(i64, i64)> =
        sqlx::query_as("SELECT window_ms, marks FROM compact_dirty ORDER BY window_ms LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((window, marks)) = dirty {
        return Ok(Some(Cursor::start(window, Some(marks))));
    }
    let mut w = chunks::watermark(&mut *tx).await?;
    if w == i64::MIN {
        // The first pass starts at the oldest row: an index probe per
        // series (and partition), not a scan of every partition.
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT dozor_ms(min((SELECT v.ts FROM samples v WHERE v.series_id = s.id
                                   ORDER BY v.ts LIMIT 1)))
             FROM series s",
        )
        .fetch_one(&mut *tx)
        .await?;
        w = oldest.map_or(compaction::limit(now_ms), compaction::window_of);
        sqlx::query("INSERT INTO rollup_state (name, watermark_ms) VALUES ('compact', $1)")
            .bind(w)
            .execute(&mut *tx)
            .await?;
    }
    let Some(w) = compaction::next_window(w, now_ms, retention) else {
        return Ok(None);
    };
    sqlx::query("UPDATE rollup_state SET watermark_ms = $1 WHERE name = 'compact'")
        .bind(w + WINDOW_MS)
        .execute(&mut *tx)
        .await?;
    Ok(Some(Cursor::start(w, None)))
}
