//! Compaction for SQLite (see `storage::compaction`): closed windows'
//! rows become chunks, a bounded batch of series per transaction.

use super::chunks::{self, corrupt};
use super::{value_out, SqliteStore, VALUE_COLS};
use crate::storage::compaction::{self, Cursor, Encoded, Grouped, Step, WINDOW_MS};
use crate::storage::Result;
use sqlx::SqliteConnection;
use std::sync::atomic::Ordering;

impl SqliteStore {
    /// A bounded pass of steps; returns the series windows compacted. The
    /// next maintenance tick continues where it stopped.
    pub(super) async fn compact_pass(&self, now_ms: i64) -> Result<u64> {
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

    /// One bounded step: merges up to `SERIES_PER_STEP` series' rows of
    /// one window into their chunks, in one transaction.
    async fn compact_step(&self, now_ms: i64, cursor: Option<Cursor>) -> Result<Step> {
        let mut tx = self.writer.begin().await?;
        let cursor = match cursor {
            Some(c) => c,
            None => match next_window(&mut tx, now_ms, self.retention()).await? {
                Some(c) => c,
                None => {
                    tx.commit().await?;
                    return Ok(Step::Idle);
                }
            },
        };
        let Cursor { window, after, .. } = cursor;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT s.id FROM series s WHERE s.id > ?1 AND EXISTS
               (SELECT 1 FROM samples v WHERE v.series_id = s.id AND v.ts > ?2 AND v.ts <= ?3)
             ORDER BY s.id LIMIT ?4",
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
                sqlx::query("DELETE FROM compact_dirty WHERE window_ms = ? AND marks = ?")
                    .bind(window)
                    .bind(marks)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(Step::Moved(
                0,
                Cursor {
                    after: i64::MAX,
                    ..cursor
                },
            ));
        }
        let (rows, whole) = read_rows(&mut tx, &ids, window).await?;
        let last_done = whole.last().copied().unwrap_or(after);
        let mut done = 0;
        for (id, fresh) in rows {
            match merge_series(&mut tx, id, window, fresh).await {
                Ok(()) => done += 1,
                // A chunk that does not decode is left as it is, with the
                // series' rows beside it: reads report it, and the other
                // series of the window are compacted.
                Err(e) => tracing::error!(series = id, window, error = %e, "cannot compact"),
            }
        }
        tx.commit().await?;
        Ok(Step::Moved(
            done,
            Cursor {
                after: last_done,
                ..cursor
            },
        ))
    }

    fn retention(&self) -> i64 {
        self.retention_ms.load(Ordering::Relaxed)
    }
}

/// The window a pass starts on: a compacted window that received rows
/// since, else the one at the watermark if it has closed. The watermark
/// moves past a window as its walk starts, so rows written into it during
/// the walk mark it dirty and are not left behind.
async fn next_window(
    tx: &mut SqliteConnection,
    now_ms: i64,
    retention: i64,
) -> Result<Option<Cursor>> {
    let dirty: Option<(i64, i64)> =
        sqlx::query_as("SELECT window_ms, marks FROM compact_dirty ORDER BY window_ms LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((window, marks)) = dirty {
        return Ok(Some(Cursor::start(window, Some(marks))));
    }
    let mut w = chunks::watermark(&mut *tx).await?;
    if w == i64::MIN {
        // The first pass starts at the oldest row: one primary-key seek
        // per series, not a scan of the table (a store upgraded with a
        // month of rows must not hold the writer for it).
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT min((SELECT v.ts FROM samples v WHERE v.series_id = s.id ORDER BY v.ts LIMIT 1))
             FROM series s",
        )
        .fetch_one(&mut *tx)
        .await?;
        w = oldest.map_or(compaction::limit(now_ms), compaction::window_of);
        sqlx::query("INSERT INTO rollup_state (name, watermark_ms) VALUES ('compact', ?)")
            .bind(w)
            .execute(&mut *tx)
            .await?;
    }
    let Some(w) = compaction::next_window(w, now_ms, retention) else {
        return Ok(None);
    };
    sqlx::query("UPDATE rollup_state SET watermark_ms = ? WHERE name = 'compact'")
        .bind(w + WINDOW_MS)
        .execute(&mut *tx)
        .await?;
    Ok(Some(Cursor::start(w, None)))
}

/// The rows of `ids` in `window` (see `compaction::group_rows`).
async fn read_rows(tx: &mut SqliteConnection, ids: &[i64], window: i64) -> Result<Grouped> {
    let marks = vec!["?"; ids.len()].join(",");
    let sql = format!(
        "SELECT series_id, ts, {VALUE_COLS} FROM samples \
         WHERE series_id IN ({marks}) AND ts > ? AND ts <= ? ORDER BY series_id, ts LIMIT ?"
    );
    let mut q = sqlx::query_as::<_, (i64, i64, Option<f64>, i64)>(&sql);
    for id in ids {
        q = q.bind(id);
    }
    let rows = q
        .bind(window)
        .bind(window + WINDOW_MS)
        .bind(compaction::ROWS_PER_STEP)
        .fetch_all(&mut *tx)
        .await?;
    Ok(compaction::group_rows(
        rows.into_iter()
            .map(|(id, t, v, kind)| (id, t, value_out(v, kind)))
            .collect(),
    ))
}

/// Merges a series' rows of `window` into its chunks there and deletes
/// the rows.
async fn merge_series(
    tx: &mut SqliteConnection,
    id: i64,
    window: i64,
    fresh: Vec<(i64, f64)>,
) -> Result<()> {
    let existing: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT first_ts, data FROM sample_chunks
         WHERE series_id = ? AND first_ts > ? AND first_ts <= ? ORDER BY first_ts",
    )
    .bind(id)
    .bind(window)
    .bind(window + WINDOW_MS)
    .fetch_all(&mut *tx)
    .await?;
    let (lo, hi) = (fresh[0].0, fresh[fresh.len() - 1].0);
    let parts =
        compaction::rebuild(&existing, fresh).map_err(|(first, e)| corrupt(id, first, e))?;
    sqlx::query("DELETE FROM sample_chunks WHERE series_id = ? AND first_ts > ? AND first_ts <= ?")
        .bind(id)
        .bind(window)
        .bind(window + WINDOW_MS)
        .execute(&mut *tx)
        .await?;
    insert_chunks(tx, id, &parts).await?;
    sqlx::query("DELETE FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ?")
        .bind(id)
        .bind(lo)
        .bind(hi)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(super) async fn insert_chunks(
    tx: &mut SqliteConnection,
    id: i64,
    parts: &[Encoded],
) -> Result<()> {
    for p in parts {
        sqlx::query(
            "INSERT INTO sample_chunks (series_id, first_ts, last_ts, count, data) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(p.first_ts)
        .bind(p.last_ts)
        .bind(p.count)
        .bind(&p.data)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
