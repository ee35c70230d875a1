//! The SQLite store's chunk table (see `storage::compaction`): reading
//! chunks back for queries, ingest and rollups, and the compaction
//! watermark below which samples may be in them.

use crate::storage::compaction::damaged;
use crate::storage::compaction::{self, WINDOW_MS};
use crate::storage::{chunk, Result, StorageError};
use sqlx::SqliteConnection;
use std::collections::{HashMap, HashSet};

/// Series ids bound in one statement.
const IDS_PER_STATEMENT: usize = 500;

pub(super) type BySeries = HashMap<i64, Vec<(i64, f64)>>;

/// The compaction watermark: windows ending at or before it have been
/// compacted. `i64::MIN` before the first step.
pub(super) async fn watermark(conn: &mut SqliteConnection) -> Result<i64> {
    let w: Option<i64> =
        sqlx::query_scalar("SELECT watermark_ms FROM rollup_state WHERE name = 'compact'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(w.unwrap_or(i64::MIN))
}

pub(super) use crate::storage::compaction::corrupt;

/// The chunked samples of `ids` with `start <= ts <= end`, oldest first.
pub(super) async fn read(
    conn: &mut SqliteConnection,
    ids: &[i64],
    start: i64,
    end: i64,
) -> Result<BySeries> {
    let mut out = BySeries::new();
    // A chunk lies inside one window, so one reaching `start` begins after
    // `start - WINDOW_MS`: the primary key bounds the scan on both sides.
    let lo = start.saturating_sub(WINDOW_MS);
    for part in ids.chunks(IDS_PER_STATEMENT) {
        let marks = vec!["?"; part.len()].join(",");
        let sql = format!(
            "SELECT series_id, first_ts, data FROM sample_chunks \
             WHERE series_id IN ({marks}) AND first_ts > ? AND first_ts <= ? AND last_ts >= ? \
             ORDER BY series_id, first_ts"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, Vec<u8>)>(&sql);
        for id in part {
            q = q.bind(id);
        }
        let rows = q
            .bind(lo)
            .bind(end)
            .bind(start)
            .fetch_all(&mut *conn)
            .await?;
        for (id, first, data) in rows {
            let samples = out.entry(id).or_default();
            chunk::decode_into(&data, start, end, samples).map_err(|e| corrupt(id, first, e))?;
        }
    }
    out.retain(|_, s| !s.is_empty());
    Ok(out)
}

/// Which of `ids` have a chunked sample with `start <= ts <= end`. A
/// chunk reaching into the range from both sides is decoded; any other
/// overlapping chunk has its first or last sample inside.
pub(super) async fn with_samples(
    conn: &mut SqliteConnection,
    ids: &[i64],
    start: i64,
    end: i64,
) -> Result<HashSet<i64>> {
    let mut found = HashSet::new();
    let lo = start.saturating_sub(WINDOW_MS);
    for part in ids.chunks(IDS_PER_STATEMENT) {
        let marks = vec!["?"; part.len()].join(",");
        let sql = format!(
            "SELECT series_id, first_ts, last_ts FROM sample_chunks \
             WHERE series_id IN ({marks}) AND first_ts > ? AND first_ts <= ? AND last_ts >= ?"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64)>(&sql);
        for id in part {
            q = q.bind(id);
        }
        let rows = q
            .bind(lo)
            .bind(end)
            .bind(start)
            .fetch_all(&mut *conn)
            .await?;
        let (surely, spanning) = compaction::overlaps(rows, start, end);
        found.extend(surely);
        for (id, first) in spanning {
            if found.contains(&id) {
                continue;
            }
            let data: Vec<u8> = sqlx::query_scalar(
                "SELECT data FROM sample_chunks WHERE series_id = ? AND first_ts = ?",
            )
            .bind(id)
            .bind(first)
            .fetch_one(&mut *conn)
            .await?;
            if compaction::holds_sample_in(&data, start, end).map_err(|e| corrupt(id, first, e))? {
                found.insert(id);
            }
        }
    }
    Ok(found)
}

/// Of `rows` (series, ts, value), the ones whose (series, ts) a chunk
/// already holds, with the value it holds. Each series' chunks are read
/// once, over the span of its rows.
pub(super) async fn stored_at(
    conn: &mut SqliteConnection,
    rows: &[(i64, i64, f64)],
) -> Result<HashMap<(i64, i64), f64>> {
    let spans = compaction::spans(rows.iter().map(|r| (r.0, r.1)));
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
    Ok(rows
        .iter()
        .filter_map(|r| held.get(&(r.0, r.1)).map(|v| ((r.0, r.1), *v)))
        .collect())
}
