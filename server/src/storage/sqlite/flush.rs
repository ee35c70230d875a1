//! Filing the ingest log into `samples` (see `head.rs`). A flush reads
//! the oldest log rows, up to [`BATCH`] samples, sorts their samples by
//! series and time and inserts them a part of [`PART`] samples per
//! transaction; the last part's transaction deletes the log rows, and the
//! head forgets them after that commit. A batch is large so that each
//! series' samples share its pages; parts are small so that an ingest
//! never waits long for the one writer. Filing is idempotent (a sample
//! already in `samples` is skipped), so a crash between parts only files
//! the same samples again from the log.
//!
//! The ingest marks what its samples come late to (rollup buckets,
//! compacted windows), so that queries read those raw at once. A rollup
//! step claims marks only in a transaction that has just filed the rest
//! of the log ([`file_rest`]): the samples behind a claimed mark are then
//! in `samples`.

use super::head::{self, Head, Row};
use super::{chunks, value_in, SqliteStore, Stored, ROWS_PER_INSERT};
use crate::storage::{compaction, Result};
use sqlx::{SqliteConnection, SqlitePool};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{instrument, warn};

/// The head is flushed once it holds this many samples...
const FLUSH_AT: usize = 524_288;
/// ...or its oldest sample has waited this long. The longer a sample
/// waits, the more of its series' samples share each page written.
const FLUSH_AGE: Duration = Duration::from_secs(60);
/// Samples one flush files.
const BATCH: usize = FLUSH_AT;
/// Samples one of its transactions inserts: about 0.1–0.2 s of the writer.
const PART: usize = 65_536;
/// Past this an ingest waits for a flush before it writes: the head
/// cannot outgrow memory when flushing falls behind.
pub(super) const HEAD_CAP: usize = 4 * FLUSH_AT;
/// Log rows one statement reads.
const LOG_ROWS_PER_READ: i64 = 16;

/// One flush at a time: two would file the same rows twice.
#[derive(Default)]
pub(super) struct Filing(tokio::sync::Mutex<()>);

/// The oldest log rows, at least one and up to about `max_samples`
/// samples: the last row read and their samples, sorted by series and
/// time.
async fn read_log(
    conn: &mut SqliteConnection,
    max_samples: usize,
) -> Result<Option<(i64, Vec<Row>)>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut last = None;
    while rows.len() < max_samples {
        let read: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, body FROM samples_log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(last.unwrap_or(i64::MIN))
                .bind(LOG_ROWS_PER_READ)
                .fetch_all(&mut *conn)
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
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    Ok(last.map(|l| (l, rows)))
}

/// Inserts `rows` into `samples` within `tx`. Compaction may have passed
/// their window since their ingest marked what it saw: marked again.
async fn file_rows(tx: &mut SqliteConnection, rows: &[Row]) -> Result<()> {
    insert_rows(&mut *tx, rows).await?;
    mark_compacted(&mut *tx, rows).await
}

async fn delete_log(tx: &mut SqliteConnection, through: i64) -> Result<()> {
    sqlx::query("DELETE FROM samples_log WHERE seq <= ?")
        .bind(through)
        .execute(&mut *tx)
        .await?;
    Ok(())
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

/// For a step about to claim marks: files up to one part of the log
/// within `tx`. Returns the last row filed (for [`Head::forget`] after
/// the commit) and whether the log is now empty; only then may the step
/// claim. Maintenance drains the log first, so little is left here;
/// under a flood of ingest the claim waits for a later step rather than
/// hold the writer for the whole log.
pub(super) async fn file_rest(tx: &mut SqliteConnection) -> Result<(Option<i64>, bool)> {
    let filed = match read_log(&mut *tx, PART).await? {
        Some((last, rows)) => {
            file_rows(&mut *tx, &rows).await?;
            delete_log(&mut *tx, last).await?;
            Some(last)
        }
        None => None,
    };
    let left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM samples_log)")
        .fetch_one(&mut *tx)
        .await?;
    Ok((filed, !left))
}

/// One flush: up to [`BATCH`] samples, a part per transaction. Returns the
/// last log row filed and the samples filed.
#[instrument(skip_all, fields(backend = "sqlite"))]
pub(super) async fn flush_batch(
    writer: &SqlitePool,
    head: &Head,
    filing: &Filing,
) -> Result<Option<(i64, usize)>> {
    let _one = filing.0.lock().await;
    let started = Instant::now();
    let mut conn = writer.acquire().await?;
    let read = read_log(&mut conn, BATCH).await?;
    drop(conn);
    let Some((last, rows)) = read else {
        return Ok(None);
    };
    let parts: Vec<&[Row]> = rows.chunks(PART).collect();
    for (i, part) in parts.iter().enumerate() {
        let mut tx = writer.begin().await?;
        file_rows(&mut tx, part).await?;
        if i + 1 == parts.len() {
            delete_log(&mut tx, last).await?;
        }
        tx.commit().await?;
    }
    head.forget(last);
    tracing::debug!(
        samples = rows.len(),
        ms = started.elapsed().as_millis() as u64,
        "filed the ingest log"
    );
    Ok(Some((last, rows.len())))
}

/// Flushes when the head is big or old enough, until it is neither. Runs
/// for the life of the store.
pub(super) async fn run(writer: SqlitePool, head: Arc<Head>, filing: Arc<Filing>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if writer.is_closed() {
            return;
        }
        while head.len() >= FLUSH_AT || head.age().is_some_and(|a| a >= FLUSH_AGE) {
            if let Err(e) = flush_batch(&writer, &head, &filing).await {
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
    /// `samples`, so it drains the log first. Flushes are made of short
    /// transactions, so ingest goes on between them.
    pub(super) async fn drain(&self) -> Result<()> {
        let Some(target) = sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM samples_log")
            .fetch_one(&self.writer)
            .await?
        else {
            return Ok(());
        };
        loop {
            let Some((last, _)) = flush_batch(&self.writer, &self.head, &self.filing).await? else {
                return Ok(());
            };
            if last >= target {
                return Ok(());
            }
        }
    }
}
