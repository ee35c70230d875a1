//! Filing the ingest log into `samples` (see `head.rs`). A flush takes the
//! oldest log rows, up to a bound of samples, sorts their samples by
//! series and time, inserts them and deletes the rows, in one
//! transaction; the head forgets them after the commit.
//!
//! The ingest marks what its samples come late to (rollup buckets,
//! compacted windows), so that queries read those raw at once. A rollup
//! step claims marks only in a transaction that has just filed the whole
//! log ([`file_rest`]): the samples behind a claimed mark are then in
//! `samples`.

use super::head::{self, Head, Row};
use super::{chunks, value_in, SqliteStore, Stored, ROWS_PER_INSERT};
use crate::storage::{compaction, Result};
use sqlx::{SqliteConnection, SqlitePool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{instrument, warn};

/// Samples the first flush transaction moves. Each next one doubles while
/// a transaction takes under [`FAST`] and halves over [`SLOW`]: the more a
/// batch holds, the more of a series' samples share each page written,
/// but an ingest waits for the whole transaction.
const FIRST_BATCH: usize = 131_072;
const MIN_BATCH: usize = 16_384;
const MAX_BATCH: usize = 1 << 20;
const FAST: Duration = Duration::from_millis(150);
const SLOW: Duration = Duration::from_millis(400);
/// The head is flushed once it holds this many samples...
const FLUSH_AT: usize = 524_288;
/// ...or its oldest sample has waited this long. The longer a sample
/// waits, the more of its series' samples share each page written.
const FLUSH_AGE: Duration = Duration::from_secs(60);
/// Past this an ingest waits for a flush before it writes: the head
/// cannot outgrow memory when flushing falls behind.
pub(super) const HEAD_CAP: usize = 4 * FLUSH_AT;

/// The size of the next flush transaction, paced by how long the last took.
pub(super) struct Pace(AtomicUsize);

impl Default for Pace {
    fn default() -> Self {
        Self(AtomicUsize::new(FIRST_BATCH))
    }
}

impl Pace {
    pub fn batch(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn took(&self, t: Duration) {
        let b = self.batch();
        let next = match t {
            t if t < FAST => (b * 2).min(MAX_BATCH),
            t if t > SLOW => (b / 2).max(MIN_BATCH),
            _ => b,
        };
        self.0.store(next, Ordering::Relaxed);
    }
}
/// Log rows one statement reads.
const LOG_ROWS_PER_READ: i64 = 16;

/// Moves the oldest log rows, at least one and up to about `max_samples`
/// samples, into `samples` within `tx`. Returns the last row moved and
/// how many samples it moved; the caller commits, then the head forgets.
pub(super) async fn flush_in(
    tx: &mut SqliteConnection,
    max_samples: usize,
) -> Result<Option<(i64, usize)>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut last = None;
    while rows.len() < max_samples {
        let read: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, body FROM samples_log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(last.unwrap_or(i64::MIN))
                .bind(LOG_ROWS_PER_READ)
                .fetch_all(&mut *tx)
                .await?;
        let Some(end) = read.last().map(|r| r.0) else {
            break;
        };
        for (seq, body) in read {
            if head::decode(&body, &mut rows).is_none() {
                // Only a damaged file can do this; the row cannot be read
                // and would block every later one.
                tracing::error!(seq, bytes = body.len(), "dropping a damaged ingest log row");
            }
        }
        last = Some(end);
    }
    let Some(last) = last else {
        return Ok(None);
    };
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    insert_rows(&mut *tx, &rows).await?;
    // Compaction may have passed these rows' window since their ingest
    // marked what it saw.
    mark_compacted(&mut *tx, &rows).await?;
    sqlx::query("DELETE FROM samples_log WHERE seq <= ?")
        .bind(last)
        .execute(&mut *tx)
        .await?;
    Ok(Some((last, rows.len())))
}

/// Multi-row inserts; a row already stored is skipped.
async fn insert_rows(tx: &mut SqliteConnection, rows: &[Row]) -> Result<()> {
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
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Rows at or below the compaction watermark (backfill, late samples)
/// mark their windows for the next compaction step, which merges them
/// into the chunks.
pub(super) async fn mark_compacted(tx: &mut SqliteConnection, rows: &[Row]) -> Result<()> {
    let watermark = chunks::watermark(&mut *tx).await?;
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
    Ok(())
}

/// For a step about to claim marks: files one paced batch of the log
/// within `tx`. Returns the last row filed (for [`Head::forget`] after
/// the commit) and whether the log is now empty; only then may the step
/// claim. Maintenance drains the log first, so one batch is usually all;
/// under a flood of ingest the claim waits for a later step rather than
/// hold the writer for the whole log.
pub(super) async fn file_rest(
    tx: &mut SqliteConnection,
    pace: &Pace,
) -> Result<(Option<i64>, bool)> {
    let filed = flush_in(&mut *tx, pace.batch()).await?.map(|d| d.0);
    let left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM samples_log)")
        .fetch_one(&mut *tx)
        .await?;
    Ok((filed, !left))
}

/// One flush transaction on the writer; returns the last log row and the
/// samples it moved.
#[instrument(skip_all, fields(backend = "sqlite"))]
pub(super) async fn flush_batch(
    writer: &SqlitePool,
    head: &Head,
    pace: &Pace,
) -> Result<Option<(i64, usize)>> {
    let started = Instant::now();
    let mut tx = writer.begin().await?;
    let done = flush_in(&mut tx, pace.batch()).await?;
    tx.commit().await?;
    if let Some((last, n)) = done {
        head.forget(last);
        pace.took(started.elapsed());
        tracing::debug!(
            samples = n,
            ms = started.elapsed().as_millis() as u64,
            "filed the ingest log"
        );
    }
    Ok(done)
}

/// Flushes when the head is big or old enough, until it is neither. Runs
/// for the life of the store.
pub(super) async fn run(writer: SqlitePool, head: Arc<Head>, pace: Arc<Pace>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if writer.is_closed() {
            return;
        }
        while head.len() >= FLUSH_AT || head.age().is_some_and(|a| a >= FLUSH_AGE) {
            if let Err(e) = flush_batch(&writer, &head, &pace).await {
                // The log keeps the samples; the next round retries.
                warn!(error = %e, "flushing the ingest log failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                break;
            }
        }
    }
}

/// Rebuilds the head from the log when the store opens.
pub(super) async fn replay(writer: &SqlitePool, head: &Head) -> Result<()> {
    let mut after = i64::MIN;
    loop {
        let read: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, body FROM samples_log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(after)
                .bind(LOG_ROWS_PER_READ)
                .fetch_all(writer)
                .await?;
        let Some(end) = read.last().map(|r| r.0) else {
            return Ok(());
        };
        for (seq, body) in read {
            let mut rows = Vec::new();
            if head::decode(&body, &mut rows).is_some() {
                head.insert(seq, &rows);
            }
        }
        after = end;
    }
}

impl SqliteStore {
    /// Flushes everything logged before the call: maintenance reads
    /// `samples`, so it drains the log first. Bounded batches, so that
    /// ingest goes on between them.
    pub(super) async fn drain(&self) -> Result<()> {
        let Some(target) = sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM samples_log")
            .fetch_one(&self.writer)
            .await?
        else {
            return Ok(());
        };
        loop {
            let Some((last, _)) = flush_batch(&self.writer, &self.head, &self.pace).await? else {
                return Ok(());
            };
            if last >= target {
                return Ok(());
            }
        }
    }
}
