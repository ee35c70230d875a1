//! The sample layout of the embedded and plain-PostgreSQL stores (issue
//! 23): recent samples are rows, one per sample, cheap to insert and to
//! deduplicate; once a 2-hour window has closed, a background step moves
//! each series' rows of that window into compressed chunks
//! ([`super::chunk`]). Reading a row costs more than decoding a whole
//! chunk (see `chunk_layout` in BENCHMARKS.md), and a chunk takes an
//! eighth of the space.
//!
//! Windows are left-open like rollup buckets: window `w` holds the
//! samples with `w < ts <= w + WINDOW_MS`, so a 5-minute bucket never
//! spans two windows. Everything at or below the compaction watermark may
//! be in chunks; rows may still arrive there (backfill, late samples),
//! and they are checked against the chunks at ingest, read together with
//! them, and merged into them by the next step. This module holds what
//! the backends share: window arithmetic, the merge, the split into
//! chunks and the rollup of merged samples.

use super::chunk::{self, ChunkError};
use super::rollup;
use super::RollupPoint;
use dozor_common::model::is_stale;
use dozor_common::Sample;

/// The width of a compaction window, as Prometheus's head block.
pub const WINDOW_MS: i64 = 2 * 3_600_000;
/// How long after a window closes it stays rows: late samples from an
/// agent that was cut off for a while still land in the cheap path.
pub const GRACE_MS: i64 = 30 * 60_000;
/// Samples per chunk: a 2-hour window at 15 s is 480 samples, at 1 s
/// 7,200 (two chunks). Small enough that a chunk is decoded in a few
/// microseconds when a query needs a part of it.
pub const CHUNK_SAMPLES: usize = 4096;
/// Series one compaction step moves, each step its own transaction, so
/// the one SQLite writer is never held for long.
pub const SERIES_PER_STEP: usize = 500;
/// Steps in one pass; the next maintenance tick continues.
pub const MAX_STEPS_PER_PASS: usize = 400;

/// The window holding a sample at `ts_ms`.
pub fn window_of(ts_ms: i64) -> i64 {
    rollup::bucket_of(ts_ms, WINDOW_MS)
}

/// Windows ending at or before this are closed at `now_ms` and may be
/// compacted.
pub fn limit(now_ms: i64) -> i64 {
    rollup::floor(now_ms - GRACE_MS, WINDOW_MS)
}

/// Rows one step reads at most: a series with millions of samples in a
/// window is compacted over several steps instead of all in memory. It
/// also bounds how long a step holds SQLite's one writer: 200,000 rows
/// held it for up to a second on this machine (the vs_prometheus bench's
/// day of 416 host series); 50,000 keeps that near a quarter.
pub const ROWS_PER_STEP: i64 = 50_000;

/// Where a pass is: the window being compacted, the last series done,
/// and for a dirty window how many ingests had marked it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub window: i64,
    pub after: i64,
    pub marks: Option<i64>,
}

impl Cursor {
    pub fn start(window: i64, marks: Option<i64>) -> Self {
        Self {
            window,
            after: i64::MIN,
            marks,
        }
    }

    /// The window is done: the next step picks another.
    pub fn finished(self) -> Self {
        Self {
            after: i64::MAX,
            ..self
        }
    }

    /// Where the next step of the same pass continues, if anywhere.
    pub fn resume(self) -> Option<Self> {
        (self.after != i64::MAX).then_some(self)
    }
}

/// What one step did.
pub enum Step {
    /// Series of the cursor's window done; the next step continues there.
    Moved(u64, Cursor),
    /// Nothing is left to compact now.
    Idle,
}

/// The window a pass starts on at the watermark `w`, if it has closed:
/// windows retention is about to delete are not worth compacting.
pub fn next_window(w: i64, now_ms: i64, retention_ms: i64) -> Option<i64> {
    let limit = limit(now_ms);
    let floor = rollup::floor(now_ms.saturating_sub(retention_ms), WINDOW_MS);
    let w = w.max(floor.min(limit));
    (w + WINDOW_MS <= limit).then_some(w)
}

/// A step's rows by series, and the series read whole.
pub type Grouped = (std::collections::BTreeMap<i64, Vec<(i64, f64)>>, Vec<i64>);

/// Rows read for a step (series, ts, value; by series then time, at most
/// [`ROWS_PER_STEP`]), grouped by series, and the series read whole. When
/// the budget cut a series short and others were read, it waits for the
/// next step; when it is the only one, the rows read are compacted now
/// and the rest by the next step, which starts again at that series.
pub fn group_rows(rows: Vec<(i64, i64, f64)>) -> Grouped {
    let cut = (rows.len() as i64 == ROWS_PER_STEP).then(|| rows[rows.len() - 1].0);
    let mut out: std::collections::BTreeMap<i64, Vec<(i64, f64)>> = Default::default();
    for (id, t, v) in rows {
        out.entry(id).or_default().push((t, v));
    }
    let mut whole: Vec<i64> = out.keys().copied().collect();
    if let Some(partial) = cut {
        whole.retain(|id| *id != partial);
        if !whole.is_empty() {
            out.remove(&partial);
        }
    }
    (out, whole)
}

/// A series' chunks of one window rebuilt with rows added: the existing
/// chunks (first_ts, data) are decoded, merged with `fresh` (the chunks
/// win at equal timestamps) and split again.
pub fn rebuild(
    existing: &[(i64, Vec<u8>)],
    fresh: Vec<(i64, f64)>,
) -> Result<Vec<Encoded>, (i64, ChunkError)> {
    let mut old = Vec::new();
    for (first, data) in existing {
        chunk::decode_into(data, i64::MIN, i64::MAX, &mut old).map_err(|e| (*first, e))?;
    }
    encode_all(&merge(old, fresh)).map_err(|e| (i64::MIN, e))
}

/// One encoded chunk and what its row records about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub first_ts: i64,
    pub last_ts: i64,
    pub count: i64,
    pub data: Vec<u8>,
}

/// Splits samples (timestamps strictly increasing) into chunks of at
/// most [`CHUNK_SAMPLES`].
pub fn encode_all(samples: &[(i64, f64)]) -> Result<Vec<Encoded>, ChunkError> {
    samples
        .chunks(CHUNK_SAMPLES)
        .map(|part| {
            Ok(Encoded {
                first_ts: part[0].0,
                last_ts: part[part.len() - 1].0,
                count: part.len() as i64,
                data: chunk::encode(part)?,
            })
        })
        .collect()
}

/// Merges two sorted sample lists; at a timestamp both hold, `first`'s
/// sample is kept (what was stored first wins, as at ingest).
pub fn merge(first: Vec<(i64, f64)>, second: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    if second.is_empty() {
        return first;
    }
    if first.is_empty() {
        return second;
    }
    let mut out = Vec::with_capacity(first.len() + second.len());
    let (mut i, mut j) = (0, 0);
    while i < first.len() && j < second.len() {
        let (x, y) = (first[i], second[j]);
        if x.0 <= y.0 {
            out.push(x);
            i += 1;
            // Equal timestamps: the second's sample is dropped.
            j += usize::from(x.0 == y.0);
        } else {
            out.push(y);
            j += 1;
        }
    }
    out.extend_from_slice(&first[i..]);
    out.extend_from_slice(&second[j..]);
    out
}

/// Adds chunked samples (by series) to samples read from rows.
pub fn merge_into(
    rows: &mut std::collections::HashMap<i64, Vec<Sample>>,
    chunks: std::collections::HashMap<i64, Vec<(i64, f64)>>,
) {
    for (id, c) in chunks {
        let r: Vec<(i64, f64)> = rows
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.ts_ms, s.value))
            .collect();
        let merged = merge(c, r);
        rows.insert(
            id,
            merged.into_iter().map(|(t, v)| Sample::new(t, v)).collect(),
        );
    }
}

/// Of the chunks overlapping `[start, end]` (series, first_ts, last_ts):
/// the series surely holding a sample there (a chunk's first or last
/// sample is inside), and the chunks reaching past both ends, which must
/// be decoded to tell.
pub fn overlaps(
    chunks: Vec<(i64, i64, i64)>,
    start: i64,
    end: i64,
) -> (std::collections::HashSet<i64>, Vec<(i64, i64)>) {
    let mut found = std::collections::HashSet::new();
    let mut spanning = Vec::new();
    for (id, first, last) in chunks {
        if first >= start || last <= end {
            found.insert(id);
        } else {
            spanning.push((id, first));
        }
    }
    spanning.retain(|(id, _)| !found.contains(id));
    (found, spanning)
}

/// Whether a chunk holds a sample with `start <= ts <= end`.
pub fn holds_sample_in(data: &[u8], start: i64, end: i64) -> Result<bool, ChunkError> {
    let mut inside = Vec::new();
    chunk::decode_into(data, start, end, &mut inside)?;
    Ok(!inside.is_empty())
}

/// Per series, the first and last of the timestamps given (series, ts).
pub fn spans(
    samples: impl Iterator<Item = (i64, i64)>,
) -> std::collections::HashMap<i64, (i64, i64)> {
    let mut spans = std::collections::HashMap::new();
    for (id, t) in samples {
        let s = spans.entry(id).or_insert((t, t));
        *s = (s.0.min(t), s.1.max(t));
    }
    spans
}

/// The error for a stored chunk that does not decode.
pub fn corrupt(series_id: i64, first_ts: i64, e: ChunkError) -> super::StorageError {
    super::StorageError::Corrupt(format!(
        "chunk of series {series_id} starting at {first_ts}: {e}"
    ))
}

/// At ingest, a series whose chunk does not decode keeps its new samples
/// as rows (nothing is lost, and the other series of the batch go on);
/// its reads report the damage.
pub fn damaged(series_id: i64, e: &super::StorageError) {
    tracing::error!(series = series_id, error = %e, "a stored chunk does not decode; new samples of the series are kept as rows");
}

/// The 5-minute rollup points of sorted samples, as the SQL of the row
/// path computes them: staleness markers are not samples, NaN samples
/// are counted apart from the numbers, `last` is the latest sample's
/// value (NaN when it is NaN). Buckets are left-open.
pub fn five_minute_rollups(samples: &[(i64, f64)]) -> Vec<RollupPoint> {
    const FIVE: i64 = 300_000;
    let mut out: Vec<RollupPoint> = Vec::new();
    for &(t, v) in samples.iter().filter(|s| !is_stale(s.1)) {
        let b = rollup::bucket_of(t, FIVE);
        let p = match out.last_mut() {
            Some(p) if p.bucket_ms == b => p,
            _ => {
                out.push(RollupPoint {
                    bucket_ms: b,
                    min: f64::NAN,
                    max: f64::NAN,
                    sum: f64::NAN,
                    count: 0,
                    nan: 0,
                    last: f64::NAN,
                });
                out.last_mut().expect("just pushed")
            }
        };
        p.last = v;
        if v.is_nan() {
            p.nan += 1;
        } else if p.count == 0 {
            (p.min, p.max, p.sum, p.count) = (v, v, v, 1);
        } else {
            p.min = p.min.min(v);
            p.max = p.max.max(v);
            p.sum += v;
            p.count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_left_open_and_close_after_the_grace() {
        const H: i64 = 3_600_000;
        assert_eq!(window_of(2 * H), 0);
        assert_eq!(window_of(2 * H + 1), 2 * H);
        assert_eq!(window_of(1), 0);
        assert_eq!(window_of(0), -2 * H);
        // At 4:29 the window ending at 4:00 is still in its grace.
        assert_eq!(limit(4 * H + 29 * 60_000), 2 * H);
        assert_eq!(limit(4 * H + 30 * 60_000), 4 * H);
    }

    #[test]
    fn merge_keeps_the_first_at_equal_timestamps() {
        let a = vec![(1, 1.0), (3, 3.0), (5, 5.0)];
        let b = vec![(2, 20.0), (3, 30.0), (6, 60.0)];
        assert_eq!(
            merge(a, b),
            vec![(1, 1.0), (2, 20.0), (3, 3.0), (5, 5.0), (6, 60.0)]
        );
        assert_eq!(merge(vec![], vec![(1, 1.0)]), vec![(1, 1.0)]);
    }

    #[test]
    fn long_windows_split_into_bounded_chunks() {
        let s: Vec<(i64, f64)> = (0..(CHUNK_SAMPLES as i64 * 2 + 5))
            .map(|i| (i * 1000, i as f64))
            .collect();
        let parts = encode_all(&s).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].count, 5);
        let back: Vec<(i64, f64)> = parts
            .iter()
            .flat_map(|p| chunk::decode(&p.data).unwrap())
            .collect();
        assert_eq!(back, s);
        assert_eq!(parts[1].first_ts, CHUNK_SAMPLES as i64 * 1000);
    }

    #[test]
    fn rollups_keep_nan_apart_and_skip_stale_markers() {
        let stale = dozor_common::model::stale_nan();
        let s = [
            (1, 2.0),
            (2, f64::NAN),
            (3, 1.0),
            (300_000, 4.0),
            (300_001, stale),
            (600_001, f64::NAN),
        ];
        let r = five_minute_rollups(&s);
        assert_eq!(r.len(), 2, "a bucket of only a stale marker is none");
        assert_eq!(
            (
                r[0].bucket_ms,
                r[0].min,
                r[0].max,
                r[0].sum,
                r[0].count,
                r[0].nan
            ),
            (0, 1.0, 4.0, 7.0, 3, 1)
        );
        assert_eq!(r[0].last, 4.0);
        assert_eq!((r[1].bucket_ms, r[1].count, r[1].nan), (600_000, 0, 1));
        assert!(r[1].last.is_nan() && r[1].sum.is_nan());
    }
}
