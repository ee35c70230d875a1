//! The chunk table of plain PostgreSQL (see `storage::compaction`; the
//! TimescaleDB layout keeps rows and compresses them itself): what chunks
//! hold in a range or at given points (queries read them in one statement
//! with the rows, `read::samples_in`), and the lock that keeps compaction apart from ingest into
//! closed windows.
//!
//! Several servers may write at once. An ingest that touches a window
//! that may have closed takes [`COMPACT_LOCK`] shared for its
//! transaction; a compaction step takes it exclusively. Ingest of recent
//! samples, the usual case, never takes it: no step can start on a window
//! until half an hour after it closed.

use crate::storage::compaction::damaged;
use crate::storage::compaction::{self, WINDOW_MS};
use crate::storage::{chunk, Result, StorageError};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

/// The advisory lock between compaction and ingest into closed windows
/// ("dozor_cp").
pub(super) const COMPACT_LOCK: i64 = 0x646f_7a6f_725f_6370;

/// How far ahead of its own clock an ingest counts windows as possibly
/// closed: servers sharing a database may disagree by this much.
const CLOCK_SLACK_MS: i64 = 10 * 60_000;

/// Does a batch reach into windows a compaction step may be working on?
pub(super) fn touches_closed(ts: &[i64], now_ms: i64) -> bool {
    let limit = compaction::limit(now_ms.saturating_add(CLOCK_SLACK_MS));
    ts.iter().any(|t| *t <= limit)
}

pub(super) type BySeries = HashMap<i64, Vec<(i64, f64)>>;

/// The compaction watermark (see the SQLite store's).
pub(super) async fn watermark(conn: &mut PgConnection) -> Result<i64> {
    let w: Option<i64> =
        sqlx::query_scalar("SELECT watermark_ms FROM rollup_state WHERE name = 'compact'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(w.unwrap_or(i64::MIN))
}

pub(super) use crate::storage::compaction::corrupt;

/// The chunked samples of `ids` with `start <= ts <= end`, oldest first.
pub(super) async fn read(
    conn: &mut PgConnection,
    ids: &[i64],
    start: i64,
    end: i64,
) -> Result<BySeries> {
    // A chunk lies inside one window, so one reaching `start` begins after
    // `start - WINDOW_MS`.
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT series_id, first_ts, data FROM sample_chunks
         WHERE series_id = ANY($1) AND first_ts > $2 AND first_ts <= $3 AND last_ts >= $4
         ORDER BY series_id, first_ts",
    )
    .bind(ids)
    .bind(start.saturating_sub(WINDOW_MS))
    .bind(end)
    .bind(start)
    .fetch_all(&mut *conn)
    .await?;
    decode(rows, start, end)
}

/// The samples with `start <= ts <= end` of chunks (series, first_ts,
/// data) in any order, by series, oldest first.
pub(super) fn decode(
    mut chunks: Vec<(i64, i64, Vec<u8>)>,
    start: i64,
    end: i64,
) -> Result<BySeries> {
    chunks.sort_unstable_by_key(|(id, first, _)| (*id, *first));
    let mut out = BySeries::new();
    for (id, first, data) in chunks {
        let samples = out.entry(id).or_default();
        chunk::decode_into(&data, start, end, samples).map_err(|e| corrupt(id, first, e))?;
    }
    out.retain(|_, s| !s.is_empty());
    Ok(out)
}

/// Which of `ids` have a chunked sample with `start <= ts <= end` (only
/// chunks reaching into the range from both sides are decoded).
pub(super) async fn with_samples(
    conn: &mut PgConnection,
    ids: &[i64],
    start: i64,
    end: i64,
) -> Result<HashSet<i64>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT series_id, first_ts, last_ts FROM sample_chunks
         WHERE series_id = ANY($1) AND first_ts > $2 AND first_ts <= $3 AND last_ts >= $4",
    )
    .bind(ids)
    .bind(start.saturating_sub(WINDOW_MS))
    .bind(end)
    .bind(start)
    .fetch_all(&mut *conn)
    .await?;
    let (mut found, spanning) = compaction::overlaps(rows, start, end);
    for (id, first) in spanning {
        if found.contains(&id) {
            continue;
        }
        let data: Vec<u8> = sqlx::query_scalar(
            "SELECT data FROM sample_chunks WHERE series_id = $1 AND first_ts = $2",
        )
        .bind(id)
        .bind(first)
        .fetch_one(&mut *conn)
        .await?;
        if compaction::holds_sample_in(&data, start, end).map_err(|e| corrupt(id, first, e))? {
            found.insert(id);
        }
    }
    Ok(found)
}

/// Of the samples (ts, series, value) at or below the watermark, the
/// indexes of those a chunk already holds, with the value it holds.
pub(super) async fn stored_at(
    conn: &mut PgConnection,
    ts: &[i64],
    sid: &[i64],
    watermark: i64,
) -> Result<HashMap<usize, f64>> {
    let spans = compaction::spans(
        sid.iter()
            .zip(ts)
            .filter(|(_, t)| **t <= watermark)
            .map(|(id, t)| (*id, *t)),
    );
    let mut held = HashMap::new();
    for (id, (lo, hi)) in spans {
        let found = match read(&mut *conn, &[id], lo, hi).await {
            Ok(found) => found,
            Err(e @ StorageError::Corrupt(_)) => {
                damaged(id, &e);
                continue;
            }
            Err(e) => return Err(e),
        };
        for (t, v) in found.into_values().flatten() {
            held.insert((id, t), v);
        }
    }
    Ok(ts
        .iter()
        .zip(sid)
        .enumerate()
        .filter_map(|(i, (t, id))| held.get(&(*id, *t)).map(|v| (i, *v)))
        .collect())
}
